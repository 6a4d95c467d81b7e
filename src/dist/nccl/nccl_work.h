// The Work of an NCCL operation: the completion event recorded on its channel's stream after the
// transfer, the tensors it reads and writes, and the watchdog that waits for it.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cuda_handles.h"
#include "nccl_channel.h"
#include "nf/core/error.h"
#include "nf/dist/communicator.h"

namespace nf::dist::nccl {

class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<NcclChannel> channel, std::unique_ptr<CudaEvent> done, int device, std::string description,
           std::chrono::milliseconds timeout, std::vector<torch::Tensor> keep_alive,
           std::shared_ptr<std::atomic<int64_t>> blocked_ns);
  // Waits for an unfinished operation (MPI_Abort if that fails: a destructor cannot throw).
  ~NcclWork() override;

  // Blocks the host until the transfer has completed on the device, so the result is ready for
  // any later work, host or device, on any stream. Polls the completion event and NCCL's
  // asynchronous error under the deadline; on an error or a timeout it aborts the channel and
  // throws DistError naming the operation, the axis and the rank.
  void wait() override;

 private:
  using Clock = std::chrono::steady_clock;
  // Returns when `event` completed; aborts the channel and throws on an NCCL error or past `deadline`.
  Clock::time_point poll(const CudaEvent& event, Clock::time_point deadline);
  [[noreturn]] void fail(const DistError& error);

  enum class State { kPending, kDone, kFailed };
  std::shared_ptr<NcclChannel> channel_;
  std::unique_ptr<CudaEvent> done_;
  int device_;
  std::string description_;
  std::chrono::milliseconds timeout_;
  std::vector<torch::Tensor> keep_alive_;             // buffers the transfer reads or writes until done
  std::shared_ptr<std::atomic<int64_t>> blocked_ns_;  // the communicator's blocked_seconds()
  State state_ = State::kPending;
};

}  // namespace nf::dist::nccl
