// NcclCommunicator: unique-id broadcast over MPI, ncclCommInitRank, a dedicated stream.
#include "nf/dist/nccl_communicator.h"

#include "nf/dist/nccl_checks.h"

namespace nf::dist {
namespace {

ncclDataType_t nccl_type(NcclCommunicator::Element element) {
  return element == NcclCommunicator::Element::kBFloat16 ? ncclBfloat16 : ncclFloat32;
}

}  // namespace

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

void NcclCommunicator::all_reduce_sum_sync(void* data, size_t count, Element element) {
  NF_CHECK_NCCL(ncclAllReduce(data, data, count, nccl_type(element), ncclSum, comm_, stream_));
  NF_CHECK_CUDA(cudaStreamSynchronize(stream_));
}

void NcclCommunicator::reduce_scatter_sum_sync(const void* input, void* output, size_t output_count, Element element) {
  NF_CHECK_NCCL(ncclReduceScatter(input, output, output_count, nccl_type(element), ncclSum, comm_, stream_));
  NF_CHECK_CUDA(cudaStreamSynchronize(stream_));
}

void NcclCommunicator::all_gather_sync(const void* input, void* output, size_t input_count, Element element) {
  NF_CHECK_NCCL(ncclAllGather(input, output, input_count, nccl_type(element), comm_, stream_));
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
