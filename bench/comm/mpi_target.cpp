// The CPU target of bench-comm: nf's MPI backend against the MPI collectives it wraps. nf's
// Communicator starts MPI_Iallreduce / MPI_Ireduce_scatter_block / MPI_Iallgather and waits by
// polling MPI_Test under its collective timeout. Two references: the blocking collectives ("raw":
// what a plain MPI program calls), and the same non-blocking calls completed by MPI_Wait
// ("raw-nb"). OpenMPI runs blocking and non-blocking collectives with different components
// (coll/tuned, coll/libnbc), so nf/raw-nb is the cost of nf's layer and its watchdog alone, and
// raw-nb/raw that of using non-blocking collectives at all.
#include <mpi.h>
#include <torch/torch.h>

#include <limits>

#include "collective_target.h"
#include "nf/dist/checks.h"
#include "nf/dist/mpi_communicator.h"

namespace nf::bench {
namespace {

enum Side : size_t { kNf, kBlocking, kNonBlocking };

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
        chunk_storage_(torch::zeros({max_count / comm_.size()}, dtype_)) {}

  void select_count(int64_t count) override {
    full_ = full_storage_.narrow(0, 0, count);
    chunk_ = chunk_storage_.narrow(0, 0, count / comm_.size());
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
    }
    if (nonblocking) NF_CHECK_MPI(MPI_Wait(nonblocking, MPI_STATUS_IGNORE));
  }

  std::string describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string library(version, length);
    return "device cpu, " + library.substr(0, library.find_first_of(",\n")) +
           "\nnf: nf::dist::MpiCommunicator (MPI_Iallreduce / MPI_Ireduce_scatter_block / MPI_Iallgather, "
           "Work::wait polls MPI_Test under the watchdog)\n"
           "raw: MPI_Allreduce / MPI_Reduce_scatter_block / MPI_Allgather (blocking)\n"
           "raw-nb: the same non-blocking calls as nf, completed by MPI_Wait\n"
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
    }
  }

  dist::MpiCommunicator comm_;
  torch::ScalarType dtype_;
  MPI_Datatype mpi_type_;
  torch::Tensor full_storage_, chunk_storage_;
  torch::Tensor full_, chunk_;  // the selected message: views of the storage
};

}  // namespace

std::unique_ptr<CollectiveTarget> make_mpi_target(MPI_Comm comm, Element element, int64_t max_count) {
  NF_CHECK(max_count <= std::numeric_limits<int>::max(), UsageError, "--max-bytes: ", max_count,
           " elements exceed MPI's int count; use at most 2^31-1 elements");
  return std::make_unique<MpiTarget>(comm, element, max_count);
}

}  // namespace nf::bench
