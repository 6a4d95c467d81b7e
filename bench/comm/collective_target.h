// What bench-comm measures: the three collectives of data and ZeRO parallelism and the pipeline's
// point-to-point exchange, each run on the same buffers of one backend through nf's communicator
// layer and through the library's own calls (the references), so that the table shows what nf's
// layer costs on top of the library.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nf::bench {

// kSendRecv is nccl-tests' sendrecv: every rank sends the full buffer to rank (r+1) % n and
// receives as much from rank (r-1+n) % n, as pipeline stages pass activations on.
enum class Collective { kAllReduce, kReduceScatter, kAllGather, kSendRecv };
enum class Element { kFloat32, kBFloat16 };

// "all_reduce", "reduce_scatter", "all_gather", "sendrecv": the names of --ops and of the rows.
const char* name_of(Collective collective);
// Every collective, in the order of the table.
const std::vector<Collective>& all_collectives();
int64_t bytes_of(Element element);
// nccl-tests' bus-bandwidth factor: what a rank sends per byte of the full buffer in a ring,
// 2(n-1)/n for all_reduce, (n-1)/n for reduce_scatter and all_gather, 1 for sendrecv (each rank
// sends the whole buffer once). busbw = algbw x factor.
double bus_factor(Collective collective, int ranks);

// One backend's buffers, sized once for the largest message, and the ways to run each collective
// on them: side 0 through nf's layer, the others through the library's own calls (references).
// The full buffer is the all_reduce operand, the reduce_scatter input, the all_gather output and
// what sendrecv sends; the chunk (full / ranks) is the reduce_scatter output and the all_gather
// input; a second full-size buffer receives sendrecv's message.
class CollectiveTarget {
 public:
  virtual ~CollectiveTarget() = default;
  // Collectives after this act on the first `count` elements of the full buffers (a multiple of
  // the rank count) and the first count / ranks of the chunk. Not timed.
  virtual void select_count(int64_t count) = 0;
  // The sides' column labels, "nf" first.
  virtual std::vector<std::string> sides() const = 0;
  // Runs `collective` on `side` to completion on this rank.
  virtual void run(size_t side, Collective collective) = 0;
  // The library and its version, e.g. "Open MPI v4.1.4" or "NCCL 2.28.3, CUDA runtime 13.0".
  virtual std::string library() const = 0;
  // The header lines: the device, the library, and what each side runs.
  virtual std::string describe() const = 0;
};

// CPU tensors: nf::dist::MpiCommunicator (non-blocking MPI, completed under its watchdog) against
// MPI_Allreduce / MPI_Reduce_scatter_block / MPI_Allgather / MPI_Sendrecv ("raw") and against the
// non-blocking calls nf starts, completed by MPI_Wait(all) ("raw-nb"), on the same communicator
// and buffers.
std::unique_ptr<CollectiveTarget> make_mpi_target(MPI_Comm comm, Element element, int64_t max_count);

#ifdef NF_HAVE_NCCL
// CUDA tensors on device `local_rank`: nf::dist::NcclCommunicator against ncclAllReduce /
// ncclReduceScatter / ncclAllGather / grouped ncclSend + ncclRecv ("raw") on the collectives' NCCL
// communicator and stream and the same buffers. Throws UsageError when LibTorch sees no GPU, or
// none for this local rank.
std::unique_ptr<CollectiveTarget> make_nccl_target(MPI_Comm comm, Element element, int64_t max_count, int local_rank);
#endif

}  // namespace nf::bench
