// The NCCL backend of Communicator, for CUDA tensors on one device per rank. Compiled whenever
// the CUDA toolkit and nccl.h are present (NF_HAVE_NCCL), even where LibTorch has no CUDA, so CI
// at least compiles it; it runs only on GPU machines with a CUDA LibTorch.
//
// Ordering. Each operation records an event on the caller's current LibTorch stream and makes
// its channel's stream wait on it, so the transfer starts only after the kernels that produced
// its input; it runs on that stream and records a completion event. Work::wait() blocks the host
// until the completion event has fired, polling it and NCCL's asynchronous error under the
// collective timeout (the watchdog: a dead or stalled peer aborts the NCCL communicator and
// throws DistError naming the operation, the axis and the rank). So after wait() the result is
// ready for the host and for any stream, exactly as on the MPI backend; operations started before
// a wait (the gradient buckets during backward) overlap with the compute queued after them.
// Tensors stay referenced by their Work until the transfer has completed.
//
// Point to point. NCCL matches sends and receives between two ranks in the order they were
// issued (`tag` only names the message in errors), and a send blocks its stream until the peer
// receives. One stream for both directions would deadlock a pipeline (stage 0 sends activation 1
// while stage 1 sends gradient 0, each stream stuck behind its send), so a communicator built
// with PointToPoint::kOn sends each direction on its own NCCL communicator and stream: traffic
// to higher ranks on one, to lower ranks on the other.
#pragma once

#include <mpi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nf/dist/communicator.h"

// Forward declarations keep CUDA and NCCL headers out of every includer.
typedef struct ncclComm* ncclComm_t;
typedef struct CUstream_st* cudaStream_t;

namespace nf::dist {

namespace nccl {
class NcclChannel;
}  // namespace nccl

class NcclCommunicator : public Communicator {
 public:
  // Whether send/recv work: two more NCCL communicators (see above); the mesh builds them for
  // the pp axis only.
  enum class PointToPoint { kOff, kOn };

  // Collective over `comm`: every rank of it must call this together. `device` is the CUDA device
  // this rank drives (its local rank); every tensor passed in must live there.
  NcclCommunicator(MPI_Comm comm, std::string axis, std::chrono::milliseconds timeout, int device,
                   PointToPoint point_to_point);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& axis() const override { return axis_; }
  std::chrono::milliseconds timeout() const override { return timeout_; }
  int device() const { return device_; }
  // The collectives' NCCL communicator and stream, for references that call NCCL directly
  // (bench-comm's "raw" side).
  ncclComm_t handle() const;
  cudaStream_t stream() const;

  std::unique_ptr<Work> all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  std::unique_ptr<Work> reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) override;
  std::unique_ptr<Work> all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  std::unique_ptr<Work> broadcast(torch::Tensor& tensor, int root) override;
  std::unique_ptr<Work> send(const torch::Tensor& tensor, int peer, int tag) override;
  std::unique_ptr<Work> recv(torch::Tensor& tensor, int peer, int tag) override;
  // An all_reduce of a one-element device buffer, waited for: returns once every rank arrived.
  void barrier() override;

  // "NCCL 2.28.x, CUDA runtime 13.0": what this build runs with.
  static std::string version_string();

 private:
  std::string describe(const std::string& operation) const;
  // The channel that carries data from rank `from` to rank `to` (one of them this rank).
  const std::shared_ptr<nccl::NcclChannel>& point_to_point(const std::string& description, int from, int to) const;
  // Orders `call` (which enqueues NCCL work on the stream it is given) after the caller's compute
  // stream on `channel`, and returns the Work that completes it.
  std::unique_ptr<Work> launch(const std::shared_ptr<nccl::NcclChannel>& channel, std::string description,
                               std::vector<torch::Tensor> keep_alive,
                               const std::function<void(ncclComm_t, cudaStream_t)>& call);

  std::string axis_;
  std::chrono::milliseconds timeout_;
  int device_ = 0;
  int rank_ = 0;
  int size_ = 1;
  int world_rank_ = 0;
  std::shared_ptr<nccl::NcclChannel> collectives_;
  std::shared_ptr<nccl::NcclChannel> to_higher_, to_lower_;  // point to point, by direction of the data
  void* barrier_token_ = nullptr;                            // one int32 on the device
};

}  // namespace nf::dist
