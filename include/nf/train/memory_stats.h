// What a rank's memory peaked at, measured (the planner of planner.h predicts it): the peak of the
// tensors LibTorch allocated (on CUDA its caching allocator's peak of allocated bytes; on the CPU
// a counting allocator installed for the trainer's lifetime) and the process's peak resident set.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/Device.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace nf::train {

// Counts the bytes of CPU tensors allocated while it is installed: LibTorch's CPU allocator is
// process-wide, so this object replaces it for its lifetime (one at a time) and puts the previous
// one back. Tensors it allocated may outlive it: their deleters keep the counts alive.
class TensorMemoryCounter {
 public:
  TensorMemoryCounter();
  ~TensorMemoryCounter();
  TensorMemoryCounter(const TensorMemoryCounter&) = delete;
  TensorMemoryCounter& operator=(const TensorMemoryCounter&) = delete;

  uint64_t current_bytes() const;
  uint64_t peak_bytes() const;
  // From now on the peak counts from what is allocated now.
  void reset_peak();

 private:
  struct Counts {
    std::atomic<uint64_t> current{0};
    std::atomic<uint64_t> peak{0};
  };
  class CountingAllocator;
  std::shared_ptr<Counts> counts_;
  std::unique_ptr<CountingAllocator> allocator_;
  c10::Allocator* previous_;
};

struct MemoryPeak {
  uint64_t tensor_bytes = 0;  // CUDA: the allocator's peak allocated bytes; CPU: counter's peak
  uint64_t rss_bytes = 0;     // the process's peak resident set (getrusage)
};

// The tensors allocated now on `device` (a CUDA device's allocator, else `cpu_counter`).
uint64_t tensor_bytes_now(const c10::Device& device, const TensorMemoryCounter& cpu_counter);

// This rank's peaks since the last reset_tensor_peak: tensors on `device` (a CUDA device's
// allocator, else `cpu_counter`); the process's resident set since it started.
MemoryPeak memory_peak(const c10::Device& device, const TensorMemoryCounter& cpu_counter);
// Starts the tensor peak afresh (the trainer does once set up, so that the peak is training's).
void reset_tensor_peak(const c10::Device& device, TensorMemoryCounter& cpu_counter);

}  // namespace nf::train
