// CudaEvent, DeviceScope and compute_stream (cuda_handles.h).
#include "cuda_handles.h"

#ifdef NF_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#include "nf/dist/nccl_checks.h"

namespace nf::dist::nccl {

CudaEvent::CudaEvent() { NF_CHECK_CUDA(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }

CudaEvent::~CudaEvent() { cudaEventDestroy(event_); }

DeviceScope::DeviceScope(int device) {
  NF_CHECK_CUDA(cudaGetDevice(&previous_));
  if (previous_ == device) return;
  NF_CHECK_CUDA(cudaSetDevice(device));
  changed_ = true;
}

DeviceScope::~DeviceScope() {
  if (changed_) cudaSetDevice(previous_);
}

cudaStream_t compute_stream([[maybe_unused]] int device) {
#ifdef NF_WITH_CUDA
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
#else
  throw DistError(
      "the NCCL backend orders its transfers after LibTorch's CUDA stream, and this build's LibTorch "
      "has no CUDA",
      "configure against PyTorch's LibTorch with CUDA (NF_WITH_CUDA=AUTO finds it through python3)");
#endif
}

}  // namespace nf::dist::nccl
