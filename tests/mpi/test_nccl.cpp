// The NCCL communicator on a GPU machine: built over MPI_COMM_WORLD, one device per local rank,
// an all-reduce of known values. Skipped (and said so) where no GPU is visible.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <vector>

#include "nf/dist/nccl_communicator.h"

namespace nf::dist {
namespace {

TEST(NcclCommunicator, AllReduceSumsAcrossRanks) {
  const int devices = NcclCommunicator::device_count();
  if (devices == 0) GTEST_SKIP() << "no CUDA device visible; " << NcclCommunicator::version_string();
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local_rank = 0;
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_free(&node);
  NcclCommunicator comm(MPI_COMM_WORLD, local_rank % devices);
  const size_t count = 1 << 20;
  std::vector<float> host(count);
  for (size_t i = 0; i < count; ++i) host[i] = static_cast<float>(comm.rank() + 1) * static_cast<float>(i % 7);
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), count * sizeof(float)), cudaSuccess);
  cudaMemcpy(device, host.data(), count * sizeof(float), cudaMemcpyHostToDevice);
  comm.all_reduce_sum_sync(device, count);
  cudaMemcpy(host.data(), device, count * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(device);
  const float ranks_sum = static_cast<float>(comm.size() * (comm.size() + 1) / 2);
  for (size_t i = 0; i < count; i += 997) ASSERT_EQ(host[i], ranks_sum * static_cast<float>(i % 7)) << i;
}

}  // namespace
}  // namespace nf::dist
