// dist/device_memory.h in a build without the NCCL backend, which is what links the CUDA runtime:
// such a build cannot train on a CUDA device (Mesh refuses it too), so asking about one is an error.
#include "nf/dist/device_memory.h"

#ifndef NF_HAVE_NCCL
#include "nf/core/error.h"

namespace nf::dist {
namespace {

[[noreturn]] void no_cuda_runtime() {
  throw DistError("asked for a CUDA device's memory, and this build has no NCCL backend (nor the CUDA runtime)",
                  "configure where CMake finds nccl.h and libnccl (/usr/local/cuda or CUDA_HOME); CMake's summary "
                  "line says 'NCCL sources ON'");
}

}  // namespace

CudaMemory cuda_memory(int /*device*/) { no_cuda_runtime(); }
void reset_cuda_peak(int /*device*/) { no_cuda_runtime(); }

}  // namespace nf::dist
#endif
