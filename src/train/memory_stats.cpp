// Measured memory peaks (memory_stats.h).
#include "nf/train/memory_stats.h"

#include <c10/core/CPUAllocator.h>
#include <sys/resource.h>

#include <cstring>

#include "nf/dist/device_memory.h"

namespace nf::train {

// Wraps the allocator it replaces: every block is the wrapped allocator's, with a context that
// remembers its size and the counts to give it back to.
class TensorMemoryCounter::CountingAllocator : public c10::Allocator {
 public:
  CountingAllocator(c10::Allocator* wrapped, std::shared_ptr<Counts> counts)
      : wrapped_(wrapped), counts_(std::move(counts)) {}

  c10::DataPtr allocate(size_t n) override {
    c10::DataPtr inner = wrapped_->allocate(n);
    void* data = inner.get();
    const c10::Device device = inner.device();
    const uint64_t now = counts_->current.fetch_add(n) + n;
    uint64_t peak = counts_->peak.load();
    while (now > peak && !counts_->peak.compare_exchange_weak(peak, now)) {
    }
    return {data, new Block{std::move(inner), n, counts_}, &release, device};
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }

 private:
  struct Block {
    c10::DataPtr inner;
    size_t bytes;
    std::shared_ptr<Counts> counts;
  };
  static void release(void* context) {
    auto* block = static_cast<Block*>(context);
    block->counts->current.fetch_sub(block->bytes);
    delete block;  // frees the wrapped allocator's block
  }

  c10::Allocator* wrapped_;
  std::shared_ptr<Counts> counts_;
};

TensorMemoryCounter::TensorMemoryCounter()
    : counts_(std::make_shared<Counts>()),
      allocator_(std::make_unique<CountingAllocator>(c10::GetCPUAllocator(), counts_)),
      previous_(c10::GetCPUAllocator()) {
  // The highest priority, so LibTorch's own registration cannot displace it; the same lets the
  // destructor put the previous allocator back.
  c10::SetCPUAllocator(allocator_.get(), UINT8_MAX);
}

TensorMemoryCounter::~TensorMemoryCounter() {
  c10::SetCPUAllocator(previous_, UINT8_MAX);
  // Storages it allocated keep a pointer to it (a resize allocates through it again) and may
  // outlive this object: the allocator itself, a few bytes, is left alive on purpose.
  (void)allocator_.release();
}

uint64_t TensorMemoryCounter::current_bytes() const { return counts_->current.load(); }
uint64_t TensorMemoryCounter::peak_bytes() const { return counts_->peak.load(); }
void TensorMemoryCounter::reset_peak() { counts_->peak.store(counts_->current.load()); }

uint64_t tensor_bytes_now(const c10::Device& device, const TensorMemoryCounter& cpu_counter) {
  if (device.is_cuda()) return dist::cuda_memory(device.index()).allocated_bytes;
  return cpu_counter.current_bytes();
}

void reset_tensor_peak(const c10::Device& device, TensorMemoryCounter& cpu_counter) {
  cpu_counter.reset_peak();
  if (device.is_cuda()) dist::reset_cuda_peak(device.index());
}

MemoryPeak memory_peak(const c10::Device& device, const TensorMemoryCounter& cpu_counter) {
  MemoryPeak peak;
  peak.tensor_bytes =
      device.is_cuda() ? dist::cuda_memory(device.index()).peak_allocated_bytes : cpu_counter.peak_bytes();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  peak.rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
  return peak;
}

}  // namespace nf::train
