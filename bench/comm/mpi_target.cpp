// The CPU target of bench-comm: nf's MPI backend against the MPI calls it wraps. nf's
// Communicator starts MPI_Iallreduce / MPI_Ireduce_scatter_block / MPI_Iallgather, or MPI_Irecv and
// MPI_Isend for sendrecv, and waits by polling MPI_Test under its collective timeout. Two
// references: the blocking calls ("raw": what a plain MPI program calls, MPI_Sendrecv for
// sendrecv), and the same non-blocking calls completed by MPI_Wait / MPI_Waitall ("raw-nb").
// OpenMPI runs blocking and non-blocking collectives with different components (coll/tuned,
// coll/libnbc), so nf/raw-nb is the cost of nf's layer and its watchdog alone, and raw-nb/raw that
// of using non-blocking collectives at all.
#include <mpi.h>
#include <torch/torch.h>

#include <limits>

#include "collective_target.h"
#include "nf/dist/checks.h"
#include "nf/dist/mpi_communicator.h"

namespace nf::bench {
namespace {

enum Side : size_t { kNf, kBlocking, kNonBlocking };

// sendrecv's tag. The communicator is bench-comm's own (MpiCommunicator duplicates the one it is
// given) and a side's messages all arrive before the next side starts, so no other message can
// match it; nf's trainer tags live in nf/dist/p2p_tags.h.
constexpr int kSendRecvTag = 0;

class MpiTarget : public CollectiveTarget {
 public:
  MpiTarget(MPI_Comm comm, Element element, int64_t max_count)
      : comm_(comm, "world", std::chrono::minutes(5)),
        dtype_(element == Element::kBFloat16 ? torch::kBFloat16 : torch::kFloat),
        // MPI has no bf16: the references move its bits as uint16, as nf's backend does (which
        // can only gather them; bench_comm.cpp refuses bf16 reductions on CPU).
        mpi_type_(element == Element::kBFloat16 ? MPI_UINT16_T : MPI_FLOAT),
        // zeros() writes every page now, so no first-touch page fault lands in a timed run.
        full_storage_(torch::zeros({max_count}, dtype_)),
        chunk_storage_(torch::zeros({max_count / comm_.size()}, dtype_)),
        received_storage_(torch::zeros({max_count}, dtype_)),
        next_((comm_.rank() + 1) % comm_.size()),
        previous_((comm_.rank() - 1 + comm_.size()) % comm_.size()) {}

  void select_count(int64_t count) override {
    full_ = full_storage_.narrow(0, 0, count);
    chunk_ = chunk_storage_.narrow(0, 0, count / comm_.size());
    received_ = received_storage_.narrow(0, 0, count);
  }

  std::vector<std::string> sides() const override { return {"nf", "raw", "raw-nb"}; }

  void run(size_t side, Collective collective) override {
    if (side == kNf) return run_nf(collective);
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Request* nonblocking = side == kNonBlocking ? &request : nullptr;
    const int count = static_cast<int>(full_.numel()), chunk_count = static_cast<int>(chunk_.numel());
    void *full = full_.data_ptr(), *chunk = chunk_.data_ptr();
    const MPI_Comm comm = comm_.handle();
    switch (collective) {
      case Collective::kAllReduce:
        NF_CHECK_MPI(nonblocking ? MPI_Iallreduce(MPI_IN_PLACE, full, count, mpi_type_, MPI_SUM, comm, nonblocking)
                                 : MPI_Allreduce(MPI_IN_PLACE, full, count, mpi_type_, MPI_SUM, comm));
        break;
      case Collective::kReduceScatter:
        NF_CHECK_MPI(nonblocking
                         ? MPI_Ireduce_scatter_block(full, chunk, chunk_count, mpi_type_, MPI_SUM, comm, nonblocking)
                         : MPI_Reduce_scatter_block(full, chunk, chunk_count, mpi_type_, MPI_SUM, comm));
        break;
      case Collective::kAllGather:
        NF_CHECK_MPI(
            nonblocking ? MPI_Iallgather(chunk, chunk_count, mpi_type_, full, chunk_count, mpi_type_, comm, nonblocking)
                        : MPI_Allgather(chunk, chunk_count, mpi_type_, full, chunk_count, mpi_type_, comm));
        break;
      case Collective::kSendRecv:
        return run_sendrecv(side);  // two requests, completed there
    }
    if (nonblocking) NF_CHECK_MPI(MPI_Wait(nonblocking, MPI_STATUS_IGNORE));
  }

  std::string library() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    const std::string text(version, length);
    return text.substr(0, text.find_first_of(",\n"));  // "Open MPI v4.1.4", without the build details
  }

  std::string describe() const override {
    return "device cpu, " + library() +
           "\nnf: nf::dist::MpiCommunicator (MPI_Iallreduce / MPI_Ireduce_scatter_block / MPI_Iallgather; "
           "sendrecv: recv + send, both started, then both waited; Work::wait polls MPI_Test under the watchdog)\n"
           "raw: MPI_Allreduce / MPI_Reduce_scatter_block / MPI_Allgather / MPI_Sendrecv (blocking)\n"
           "raw-nb: the same non-blocking calls as nf, completed by MPI_Wait (sendrecv: MPI_Irecv + MPI_Isend, "
           "MPI_Waitall)\n"
           "all on the same communicator and buffers";
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
        // Both started before either is waited for: a large send completes only once its peer's
        // receive is posted, and every rank sends at once. The receive goes first, so the message
        // lands in place instead of in MPI's unexpected-message queue.
        const auto received = comm_.recv(received_, previous_, kSendRecvTag);
        const auto sent = comm_.send(full_, next_, kSendRecvTag);
        received->wait();
        sent->wait();
        return;
      }
    }
  }

  // sendrecv through MPI directly, in the same order as nf's side.
  void run_sendrecv(size_t side) {
    const int count = static_cast<int>(full_.numel());
    const MPI_Comm comm = comm_.handle();
    if (side == kBlocking) {
      NF_CHECK_MPI(MPI_Sendrecv(full_.data_ptr(), count, mpi_type_, next_, kSendRecvTag, received_.data_ptr(), count,
                                mpi_type_, previous_, kSendRecvTag, comm, MPI_STATUS_IGNORE));
      return;
    }
    MPI_Request requests[2];
    NF_CHECK_MPI(MPI_Irecv(received_.data_ptr(), count, mpi_type_, previous_, kSendRecvTag, comm, &requests[0]));
    NF_CHECK_MPI(MPI_Isend(full_.data_ptr(), count, mpi_type_, next_, kSendRecvTag, comm, &requests[1]));
    NF_CHECK_MPI(MPI_Waitall(2, requests, MPI_STATUSES_IGNORE));
  }

  dist::MpiCommunicator comm_;
  torch::ScalarType dtype_;
  MPI_Datatype mpi_type_;
  torch::Tensor full_storage_, chunk_storage_, received_storage_;
  torch::Tensor full_, chunk_, received_;  // the selected message: views of the storage
  int next_, previous_;                    // sendrecv's peers: it sends to next_, receives from previous_
};

}  // namespace

std::unique_ptr<CollectiveTarget> make_mpi_target(MPI_Comm comm, Element element, int64_t max_count) {
  NF_CHECK(max_count <= std::numeric_limits<int>::max(), UsageError, "--max-bytes: ", max_count,
           " elements exceed MPI's int count; use at most 2^31-1 elements");
  return std::make_unique<MpiTarget>(comm, element, max_count);
}

}  // namespace nf::bench
