// The MPI backend of Communicator, for CPU tensors: non-blocking MPI-3 collectives and p2p whose
// completion is polled under a deadline (the collective watchdog).
#pragma once

#include <mpi.h>

#include <vector>

#include "nf/dist/communicator.h"

namespace nf::dist {

class MpiCommunicator : public Communicator {
 public:
  // Duplicates `comm` (MPI_Comm_dup) so this communicator's traffic never mixes with the
  // caller's; frees the duplicate on destruction. Collective over `comm`.
  MpiCommunicator(MPI_Comm comm, std::string axis, std::chrono::milliseconds timeout);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& axis() const override { return axis_; }
  std::chrono::milliseconds timeout() const override { return timeout_; }
  MPI_Comm handle() const { return comm_; }

  std::unique_ptr<Work> all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  std::unique_ptr<Work> reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) override;
  std::unique_ptr<Work> all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  std::unique_ptr<Work> broadcast(torch::Tensor& tensor, int root) override;
  std::unique_ptr<Work> send(const torch::Tensor& tensor, int peer, int tag) override;
  std::unique_ptr<Work> recv(torch::Tensor& tensor, int peer, int tag) override;
  void barrier() override;

 private:
  std::unique_ptr<Work> make_work(MPI_Request request, std::string operation,
                                  std::vector<torch::Tensor> keep_alive) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::string axis_;
  std::chrono::milliseconds timeout_;
  int rank_ = 0;
  int size_ = 1;
  int world_rank_ = 0;
};

}  // namespace nf::dist
