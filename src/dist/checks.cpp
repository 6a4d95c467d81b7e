// The common message format of NF_CHECK_MPI / NF_CHECK_NCCL / NF_CHECK_CUDA failures.
#include "nf/dist/checks.h"

#include <filesystem>

namespace nf::dist::detail {

void throw_library_error(const char* library, const char* call, const std::string& reason, const char* file, int line) {
  throw DistError(std::string(library) + " call " + call + " failed: " + reason + " (" +
                      std::filesystem::path(file).filename().string() + ":" + std::to_string(line) + ")",
                  "check that every rank reached the same call; NCCL_DEBUG=INFO or OMPI_MCA_*_verbose say more");
}

}  // namespace nf::dist::detail
