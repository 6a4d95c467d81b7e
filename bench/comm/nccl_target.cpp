// The CUDA target of bench-comm (built with NF_HAVE_NCCL): nf's NCCL backend against the NCCL
// calls it wraps, on the same device buffers. nf's side is a Communicator call and Work::wait()
// (events ordering the transfer after LibTorch's stream, the watchdog's polling until the
// completion event fires); the reference side ends with cudaStreamSynchronize. Either way host
// timing measures the whole collective. The collectives of both sides share one NCCL communicator
// and stream. sendrecv does not: nf sends each direction on an NCCL communicator and stream of its
// own (nccl_communicator.h, "Point to point"), which nf does not expose, so the reference groups
// ncclSend and ncclRecv on the collectives' communicator and stream instead.
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "collective_target.h"
#include "nf/dist/nccl_checks.h"
#include "nf/dist/nccl_communicator.h"

namespace nf::bench {
namespace {

// One GPU per local rank: NCCL cannot put two ranks of a communicator on one device.
int device_for(int local_rank) {
  const int devices = static_cast<int>(torch::cuda::device_count());
  if (devices == 0) {
    throw UsageError(
        "--device cuda: LibTorch sees no CUDA device on this rank (" + dist::NcclCommunicator::version_string() + ")",
        "run on a GPU node with a CUDA LibTorch, check CUDA_VISIBLE_DEVICES, or use --device cpu");
  }
  if (local_rank >= devices) {
    throw UsageError("--device cuda: local rank " + std::to_string(local_rank) + " has no GPU of its own (" +
                         std::to_string(devices) + " visible)",
                     "launch at most one rank per GPU on each node");
  }
  return local_rank;
}

class NcclTarget : public CollectiveTarget {
 public:
  NcclTarget(MPI_Comm comm, Element element, int64_t max_count, int local_rank)
      // PointToPoint::kOn: sendrecv's nf side needs the two directional channels.
      : comm_(comm, "world", std::chrono::minutes(5), device_for(local_rank),
              dist::NcclCommunicator::PointToPoint::kOn),
        nccl_type_(element == Element::kBFloat16 ? ncclBfloat16 : ncclFloat32),
        next_((comm_.rank() + 1) % comm_.size()),
        previous_((comm_.rank() - 1 + comm_.size()) % comm_.size()) {
    const auto options = torch::TensorOptions()
                             .dtype(element == Element::kBFloat16 ? torch::kBFloat16 : torch::kFloat)
                             .device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm_.device()));
    full_storage_ = torch::zeros({max_count}, options);
    chunk_storage_ = torch::zeros({max_count / comm_.size()}, options);
    received_storage_ = torch::zeros({max_count}, options);
    // The zeros are written on LibTorch's stream; the reference side runs on the communicator's.
    NF_CHECK_CUDA(cudaDeviceSynchronize());
  }

  void select_count(int64_t count) override {
    full_ = full_storage_.narrow(0, 0, count);
    chunk_ = chunk_storage_.narrow(0, 0, count / comm_.size());
    received_ = received_storage_.narrow(0, 0, count);
  }

  std::vector<std::string> sides() const override { return {"nf", "raw"}; }

  void run(size_t side, Collective collective) override {
    if (side == 0) return run_nf(collective);
    run_reference(collective);
  }

  std::string library() const override { return dist::NcclCommunicator::version_string(); }

  std::string describe() const override {
    return "device cuda " + std::to_string(comm_.device()) + ", " + library() +
           "\nnf: nf::dist::NcclCommunicator (all_reduce / reduce_scatter / all_gather; sendrecv: recv + send, both "
           "started, then both waited), then Work::wait\n"
           "raw: ncclAllReduce / ncclReduceScatter / ncclAllGather, sendrecv: ncclGroupStart, ncclSend, ncclRecv, "
           "ncclGroupEnd; then cudaStreamSynchronize; the same buffers\n"
           "collectives on one NCCL communicator and stream; sendrecv: nf on its two point-to-point communicators and "
           "streams (one per direction), raw on the collectives' communicator and stream";
  }

 private:
  void run_nf(Collective collective) {
    switch (collective) {
      case Collective::kAllReduce:
        comm_.all_reduce(full_, dist::ReduceOp::kSum)->wait();
        return;
      case Collective::kReduceScatter:
        comm_.reduce_scatter(full_, chunk_, dist::ReduceOp::kSum)->wait();
        return;
      case Collective::kAllGather:
        comm_.all_gather(chunk_, full_)->wait();
        return;
      case Collective::kSendRecv: {
        // Both started before either is waited for: an NCCL send waits for its peer's receive,
        // and every rank sends at once.
        const auto received = comm_.recv(received_, previous_, 0);  // NCCL ignores tags
        const auto sent = comm_.send(full_, next_, 0);
        received->wait();
        sent->wait();
        return;
      }
    }
  }

  void run_reference(Collective collective) {
    const size_t count = static_cast<size_t>(full_.numel()), chunk_count = static_cast<size_t>(chunk_.numel());
    switch (collective) {
      case Collective::kAllReduce:
        NF_CHECK_NCCL(ncclAllReduce(full_.data_ptr(), full_.data_ptr(), count, nccl_type_, ncclSum, comm_.handle(),
                                    comm_.stream()));
        break;
      case Collective::kReduceScatter:
        NF_CHECK_NCCL(ncclReduceScatter(full_.data_ptr(), chunk_.data_ptr(), chunk_count, nccl_type_, ncclSum,
                                        comm_.handle(), comm_.stream()));
        break;
      case Collective::kAllGather:
        NF_CHECK_NCCL(ncclAllGather(chunk_.data_ptr(), full_.data_ptr(), chunk_count, nccl_type_, comm_.handle(),
                                    comm_.stream()));
        break;
      case Collective::kSendRecv:
        // One group, so NCCL runs the send and the receive together (as nccl-tests' sendrecv):
        // issued one after the other on one stream, every rank's send would wait for a receive
        // its peer has not issued yet.
        NF_CHECK_NCCL(ncclGroupStart());
        NF_CHECK_NCCL(ncclSend(full_.data_ptr(), count, nccl_type_, next_, comm_.handle(), comm_.stream()));
        NF_CHECK_NCCL(ncclRecv(received_.data_ptr(), count, nccl_type_, previous_, comm_.handle(), comm_.stream()));
        NF_CHECK_NCCL(ncclGroupEnd());
        break;
    }
    NF_CHECK_CUDA(cudaStreamSynchronize(comm_.stream()));
  }

  dist::NcclCommunicator comm_;
  ncclDataType_t nccl_type_;
  int next_, previous_;  // sendrecv's peers: it sends to next_, receives from previous_
  torch::Tensor full_storage_, chunk_storage_, received_storage_, full_, chunk_, received_;
};

}  // namespace

std::unique_ptr<CollectiveTarget> make_nccl_target(MPI_Comm comm, Element element, int64_t max_count, int local_rank) {
  return std::make_unique<NcclTarget>(comm, element, max_count, local_rank);
}

}  // namespace nf::bench
