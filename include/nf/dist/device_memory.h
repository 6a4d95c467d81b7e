// A CUDA device's memory, for the planner's limit and the measured peak (train/memory_stats.h).
// Implemented by the NCCL backend's library (NF_HAVE_NCCL builds), which links the CUDA runtime. A
// build without it, or whose LibTorch has no CUDA, cannot train on a CUDA device: these throw
// DistError there.
#pragma once

#include <cstdint>

namespace nf::dist {

struct CudaMemory {
  uint64_t total_bytes = 0;           // the device's memory (cudaMemGetInfo)
  uint64_t peak_allocated_bytes = 0;  // LibTorch's caching allocator: peak of allocated bytes
  uint64_t allocated_bytes = 0;       // and what is allocated now
};

CudaMemory cuda_memory(int device);
// Starts the allocator's peak afresh.
void reset_cuda_peak(int device);

}  // namespace nf::dist
