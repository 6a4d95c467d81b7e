// The one interface through which code above `dist` communicates. Backends: MPI for CPU tensors
// (mpi_communicator.h), NCCL for CUDA tensors (nccl_communicator.h). Every operation is
// asynchronous and returns a Work handle; Work::wait() enforces the collective timeout, so a peer
// that died or stalled ends the job with a DistError naming the operation, the mesh axis and the
// rank instead of hanging.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace nf::dist {

enum class ReduceOp { kSum, kMax, kMin };

// A pending operation. Destroying an unfinished Work waits for it first (a buffer must not be
// freed under an in-flight transfer).
class Work {
 public:
  virtual ~Work() = default;
  // Blocks the host until done (the result is ready for host and device code alike); throws
  // DistError when the communicator's timeout passes first.
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The mesh axis this communicator spans ("tp", "dp", "pp", "world"), for error messages.
  virtual const std::string& axis() const = 0;
  virtual std::chrono::milliseconds timeout() const = 0;

  // In place over `tensor` (contiguous, CPU for MPI / CUDA for NCCL).
  virtual std::unique_ptr<Work> all_reduce(torch::Tensor& tensor, ReduceOp op) = 0;
  // `input` holds size() equal chunks along dim 0 (flattened); rank r receives the reduction of
  // chunk r in `output`.
  virtual std::unique_ptr<Work> reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) = 0;
  // `output` receives size() chunks, chunk r being rank r's `input`.
  virtual std::unique_ptr<Work> all_gather(const torch::Tensor& input, torch::Tensor& output) = 0;
  virtual std::unique_ptr<Work> broadcast(torch::Tensor& tensor, int root) = 0;
  virtual std::unique_ptr<Work> send(const torch::Tensor& tensor, int peer, int tag) = 0;
  virtual std::unique_ptr<Work> recv(torch::Tensor& tensor, int peer, int tag) = 0;
  virtual void barrier() = 0;

  // Seconds this process has spent blocked in Work::wait() on this communicator, cumulative: the
  // communication that computation did not hide. The trainer's step-time split reads it per mesh
  // axis. (NCCL counts from when the GPU has run the compute queued before the wait: until then
  // the device is busy computing, which hides the transfer.)
  double blocked_seconds() const { return static_cast<double>(blocked_ns_->load()) * 1e-9; }

 protected:
  // Backends' Work::wait() adds the nanoseconds it blocked (shared: a Work may outlive nothing,
  // but it must never write through a dangling pointer).
  std::shared_ptr<std::atomic<int64_t>> blocked_ns_ = std::make_shared<std::atomic<int64_t>>(0);
};

}  // namespace nf::dist
