// Error checks for the communication libraries: each turns a failed return code into an
// nf::DistError that names the call, the library's own message and the source line.
#pragma once

#include <string>

#include "nf/core/error.h"

namespace nf::dist::detail {
[[noreturn]] void throw_library_error(const char* library, const char* call, const std::string& reason,
                                      const char* file, int line);
}  // namespace nf::dist::detail

// NF_CHECK_MPI(MPI_Barrier(comm)): MPI calls return MPI_SUCCESS or an error code.
#define NF_CHECK_MPI(call)                                                                                     \
  do {                                                                                                         \
    const int nf_mpi_status = (call);                                                                          \
    if (nf_mpi_status != MPI_SUCCESS) {                                                                        \
      char nf_mpi_text[MPI_MAX_ERROR_STRING];                                                                  \
      int nf_mpi_length = 0;                                                                                   \
      MPI_Error_string(nf_mpi_status, nf_mpi_text, &nf_mpi_length);                                            \
      ::nf::dist::detail::throw_library_error("MPI", #call, std::string(nf_mpi_text, nf_mpi_length), __FILE__, \
                                              __LINE__);                                                       \
    }                                                                                                          \
  } while (0)
