// Small CUDA runtime pieces of the NCCL backend: an owned event, a scoped current device, and
// the stream LibTorch queues this thread's kernels on (the caller's compute stream).
#pragma once

#include <cuda_runtime_api.h>

namespace nf::dist::nccl {

// A CUDA event without timing (cheaper to record and query), destroyed with its owner. Destroying
// an event that is still pending is allowed: CUDA releases it once it completes.
class CudaEvent {
 public:
  CudaEvent();
  ~CudaEvent();
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Makes `device` current for its lifetime, then restores the previous device. Events and streams
// belong to a device, and a thread's current device is 0 until someone sets it (autograd's and
// LibTorch's worker threads included).
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

// LibTorch's current stream on `device` for the calling thread: where the kernels that produce
// and consume the communicated tensors run. DistError in builds whose LibTorch has no CUDA
// (NF_WITH_CUDA unset), which can hold no CUDA tensors anyway.
cudaStream_t compute_stream(int device);

}  // namespace nf::dist::nccl
