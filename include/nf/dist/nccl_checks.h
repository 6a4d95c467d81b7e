// Error checks for NCCL and the CUDA runtime, the GPU counterparts of NF_CHECK_MPI (checks.h):
// a failed call becomes an nf::DistError naming the call, the library's message and the line.
// Include only where nccl.h and cuda_runtime_api.h are available (NF_HAVE_NCCL).
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "nf/dist/checks.h"

#define NF_CHECK_NCCL(call)                                                                                           \
  do {                                                                                                                \
    const ncclResult_t nf_nccl_status = (call);                                                                       \
    if (nf_nccl_status != ncclSuccess) {                                                                              \
      ::nf::dist::detail::throw_library_error("NCCL", #call, ncclGetErrorString(nf_nccl_status), __FILE__, __LINE__); \
    }                                                                                                                 \
  } while (0)

#define NF_CHECK_CUDA(call)                                                                                           \
  do {                                                                                                                \
    const cudaError_t nf_cuda_status = (call);                                                                        \
    if (nf_cuda_status != cudaSuccess) {                                                                              \
      ::nf::dist::detail::throw_library_error("CUDA", #call, cudaGetErrorString(nf_cuda_status), __FILE__, __LINE__); \
    }                                                                                                                 \
  } while (0)
