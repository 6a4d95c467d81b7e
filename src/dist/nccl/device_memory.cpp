// cuda_memory (dist/device_memory.h).
#include "nf/dist/device_memory.h"

#ifdef NF_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "cuda_handles.h"
#include "nf/dist/nccl_checks.h"

namespace nf::dist {

CudaMemory cuda_memory([[maybe_unused]] int device) {
#ifdef NF_WITH_CUDA
  const nccl::DeviceScope scope(device);
  size_t free = 0, total = 0;
  NF_CHECK_CUDA(cudaMemGetInfo(&free, &total));
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  const auto& allocated = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
  return {static_cast<uint64_t>(total), static_cast<uint64_t>(allocated.peak),
          static_cast<uint64_t>(allocated.current)};
#else
  throw DistError("asked for a CUDA device's memory, and this build's LibTorch has no CUDA",
                  "configure against PyTorch's LibTorch with CUDA (NF_WITH_CUDA=AUTO finds it through python3)");
#endif
}

void reset_cuda_peak([[maybe_unused]] int device) {
#ifdef NF_WITH_CUDA
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
#else
  throw DistError("asked to reset a CUDA device's memory peak, and this build's LibTorch has no CUDA",
                  "configure against PyTorch's LibTorch with CUDA (NF_WITH_CUDA=AUTO finds it through python3)");
#endif
}

}  // namespace nf::dist
