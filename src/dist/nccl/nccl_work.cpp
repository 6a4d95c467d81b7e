// NcclWork (nccl_work.h): a host-side wait under the collective watchdog.
#include "nccl_work.h"

#include <exception>
#include <iostream>

#include "nf/dist/nccl_checks.h"
#include "nf/dist/watchdog.h"

namespace nf::dist::nccl {

NcclWork::NcclWork(std::shared_ptr<NcclChannel> channel, std::unique_ptr<CudaEvent> done, int device,
                   std::string description, std::chrono::milliseconds timeout, std::vector<torch::Tensor> keep_alive,
                   std::shared_ptr<std::atomic<int64_t>> blocked_ns)
    : channel_(std::move(channel)),
      done_(std::move(done)),
      device_(device),
      description_(std::move(description)),
      timeout_(timeout),
      keep_alive_(std::move(keep_alive)),
      blocked_ns_(std::move(blocked_ns)) {}

NcclWork::~NcclWork() {
  // After a failure, or when unwinding, the job is ending anyway.
  if (state_ != State::kPending || std::uncaught_exceptions() > 0) return;
  try {
    wait();
  } catch (const std::exception& e) {
    // A destructor cannot throw; a stalled operation here must still end the whole job.
    std::cerr << e.what() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, static_cast<int>(ExitCode::kDistributed));
  }
}

void NcclWork::wait() {
  if (state_ == State::kDone) return;
  NF_CHECK(state_ == State::kPending, DistError, description_, " failed earlier and its NCCL communicator was aborted");
  const Clock::time_point deadline = Clock::now() + timeout_;
  const DeviceScope scope(device_);
  // Blocked time counts from when the device has run the compute queued before this wait: until
  // then the GPU is busy, and the transfer is hidden behind that compute, not exposed.
  const CudaEvent compute_done;
  NF_CHECK_CUDA(cudaEventRecord(compute_done.get(), compute_stream(device_)));
  const Clock::time_point exposed_from = poll(compute_done, deadline);
  poll(*done_, deadline);
  state_ = State::kDone;
  keep_alive_.clear();
  *blocked_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - exposed_from).count();
}

NcclWork::Clock::time_point NcclWork::poll(const CudaEvent& event, Clock::time_point deadline) {
  for (PollBackoff backoff;; backoff.pause()) {
    if (channel_->aborted()) {
      fail(DistError(description_ + " was cut short: its NCCL communicator was aborted after an earlier error",
                     "look for the first error this rank reported"));
    }
    const cudaError_t status = cudaEventQuery(event.get());
    if (status == cudaSuccess) return Clock::now();
    if (status != cudaErrorNotReady) {
      detail::throw_library_error("CUDA", "cudaEventQuery", cudaGetErrorString(status), __FILE__, __LINE__);
    }
    // "Not ready" is also left as the thread's last CUDA error, where LibTorch's next kernel-launch
    // check would find it and throw: clear it.
    (void)cudaGetLastError();
    ncclResult_t state = ncclSuccess;
    NF_CHECK_NCCL(ncclCommGetAsyncError(channel_->comm(), &state));
    if (state != ncclSuccess && state != ncclInProgress) {
      fail(DistError(description_ + " failed: NCCL reports " + ncclGetErrorString(state) + " (" +
                         ncclGetLastError(channel_->comm()) + ")",
                     "a peer rank probably failed first: look for its error; NCCL_DEBUG=WARN says more"));
    }
    if (Clock::now() > deadline) fail(timeout_error(description_, timeout_));
  }
}

void NcclWork::fail(const DistError& error) {
  state_ = State::kFailed;
  // Aborting ends the NCCL kernels still spinning on the device, so that this rank can exit (the
  // job wrapper's MPI_Abort) instead of hanging in CUDA's teardown.
  channel_->abort();
  throw error;
}

}  // namespace nf::dist::nccl
