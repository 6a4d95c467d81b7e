// NcclChannel (nccl_channel.h): unique-id broadcast over MPI, ncclCommInitRank, its own stream.
#include "nccl_channel.h"

#include <exception>

#include "cuda_handles.h"
#include "nf/dist/nccl_checks.h"

namespace nf::dist::nccl {

NcclChannel::NcclChannel(MPI_Comm comm, int device) {
  int rank = 0, size = 1;
  NF_CHECK_MPI(MPI_Comm_rank(comm, &rank));
  NF_CHECK_MPI(MPI_Comm_size(comm, &size));
  const DeviceScope scope(device);  // ncclCommInitRank binds the communicator to the current device
  ncclUniqueId id;
  if (rank == 0) NF_CHECK_NCCL(ncclGetUniqueId(&id));
  NF_CHECK_MPI(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm));
  NF_CHECK_NCCL(ncclCommInitRank(&comm_, size, id, rank));
  NF_CHECK_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

NcclChannel::~NcclChannel() {
  // Destructors must not throw: release what exists and ignore late errors.
  if (stream_) cudaStreamDestroy(stream_);
  if (!comm_) return;
  // While an exception unwinds, the job is ending, perhaps because a peer stalled: abort, which
  // does not wait for the device, rather than destroy, which may wait for a transfer that never ends.
  if (std::uncaught_exceptions() > 0) {
    abort();
  } else if (!aborted_) {
    ncclCommDestroy(comm_);
  }
}

void NcclChannel::abort() {
  if (aborted_) return;
  aborted_ = true;
  ncclCommAbort(comm_);  // best effort: the caller is already reporting the error that led here
}

}  // namespace nf::dist::nccl
