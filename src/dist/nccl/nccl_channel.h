// One NCCL communicator over the ranks of an MPI communicator, and the stream its operations run
// on. NcclCommunicator holds one for collectives and, on the pipeline axis, one per direction of
// point-to-point traffic; its pending Work holds them too, so a channel outlives its transfers.
#pragma once

#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

namespace nf::dist::nccl {

class NcclChannel {
 public:
  // Collective over `comm`: rank 0 creates the NCCL unique id and MPI broadcasts it (an opaque
  // blob), then every rank joins with ncclCommInitRank on `device`.
  NcclChannel(MPI_Comm comm, int device);
  ~NcclChannel();
  NcclChannel(const NcclChannel&) = delete;
  NcclChannel& operator=(const NcclChannel&) = delete;

  // Valid until abort(); callers check aborted() first.
  ncclComm_t comm() const { return comm_; }
  // Non-blocking with respect to the legacy default stream: ordering against LibTorch's stream
  // is explicit, through events.
  cudaStream_t stream() const { return stream_; }

  // ncclCommAbort: ends this communicator's kernels still spinning on the device (a peer died or
  // stalled) and frees it, so the rank can exit instead of hanging. Idempotent.
  void abort();
  bool aborted() const { return aborted_; }

 private:
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool aborted_ = false;
};

}  // namespace nf::dist::nccl
