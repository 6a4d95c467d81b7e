// NcclCommunicator: unique-id broadcast over MPI, ncclCommInitRank, a dedicated stream.
#include "nf/dist/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

namespace {
#define NF_CHECK_NCCL(call)                                                                                           \
  do {                                                                                                                \
    const ncclResult_t nf_nccl_status = (call);                                                                       \
    if (nf_nccl_status != ncclSuccess) {                                                                              \
      ::nf::dist::detail::throw_library_error("NCCL", #call, ncclGetErrorString(nf_nccl_status), __FILE__, __LINE__); \
    }                                                                                                                 \
  } while (0)

#define NF_CHECK_CUDA(call)                                                                                           \
  do {                                                                                                                \
    const cudaError_t nf_cuda_status = (call);                                                                        \
    if (nf_cuda_status != cudaSuccess) {                                                                              \
      ::nf::dist::detail::throw_library_error("CUDA", #call, cudaGetErrorString(nf_cuda_status), __FILE__, __LINE__); \
    }                                                                                                                 \
  } while (0)
}  // namespace

namespace nf::dist {

NcclCommunicator::NcclCommunicator(MPI_Comm comm, int device) : device_(device) {
  NF_CHECK_MPI(MPI_Comm_rank(comm, &rank_));
  NF_CHECK_MPI(MPI_Comm_size(comm, &size_));
  NF_CHECK_CUDA(cudaSetDevice(device_));
  ncclUniqueId id;
  if (rank_ == 0) NF_CHECK_NCCL(ncclGetUniqueId(&id));
  // The id is an opaque blob: MPI carries it to every rank so they all join the same clique.
  NF_CHECK_MPI(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm));
  NF_CHECK_NCCL(ncclCommInitRank(&comm_, size_, id, rank_));
  NF_CHECK_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

NcclCommunicator::~NcclCommunicator() {
  // Destructors must not throw: release what exists and ignore late errors.
  if (stream_) cudaStreamDestroy(stream_);
  if (comm_) ncclCommDestroy(comm_);
}

void NcclCommunicator::all_reduce_sum_sync(float* data, size_t count) {
  NF_CHECK_NCCL(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, comm_, stream_));
  NF_CHECK_CUDA(cudaStreamSynchronize(stream_));
}

std::string NcclCommunicator::version_string() {
  int nccl = 0, runtime = 0;
  ncclGetVersion(&nccl);
  cudaRuntimeGetVersion(&runtime);
  return "NCCL " + std::to_string(nccl / 10000) + "." + std::to_string(nccl / 100 % 100) + "." +
         std::to_string(nccl % 100) + ", CUDA runtime " + std::to_string(runtime / 1000) + "." +
         std::to_string(runtime % 1000 / 10);
}

int NcclCommunicator::device_count() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

}  // namespace nf::dist
