// Which device a rank computes on (rank_device.h).
#include "nf/dist/rank_device.h"

#include <torch/cuda.h>

#include <string>

#include "nf/core/error.h"

namespace nf::dist {

c10::Device rank_device(const JobContext& job) {
  if (!torch::cuda::is_available()) return c10::Device(c10::kCPU);
  const int devices = static_cast<int>(torch::cuda::device_count());
  if (job.local_rank >= devices) {
    throw UsageError("local rank " + std::to_string(job.local_rank) +
                         " has no GPU of its own: " + std::to_string(devices) + " CUDA device(s) visible on this node",
                     "launch at most one rank per GPU on each node, or hide the GPUs (CUDA_VISIBLE_DEVICES=) "
                     "to run on the CPU");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(job.local_rank));
}

c10::Device planned_device(const JobContext& job) {
  if (!torch::cuda::is_available()) return c10::Device(c10::kCPU);
  const int devices = static_cast<int>(torch::cuda::device_count());
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(job.local_rank % devices));
}

}  // namespace nf::dist
