// The NCCL communicator on a GPU machine: built over MPI_COMM_WORLD, one device per local rank,
// all-reduce, reduce-scatter and all-gather of known values. Skipped (and said so) where no GPU is
// visible.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "nf/dist/nccl_communicator.h"

namespace nf::dist {
namespace {

// This rank's device: its rank on the node modulo the visible devices.
int local_device(int devices) {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local_rank = 0;
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_free(&node);
  return local_rank % devices;
}

// `host` copied to a new device buffer of `capacity` floats (at least host.size()).
float* to_device(const std::vector<float>& host, size_t capacity) {
  float* device = nullptr;
  EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), capacity * sizeof(float)), cudaSuccess);
  cudaMemcpy(device, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice);
  return device;
}

std::vector<float> to_host(const float* device, size_t count) {
  std::vector<float> host(count);
  cudaMemcpy(host.data(), device, count * sizeof(float), cudaMemcpyDeviceToHost);
  return host;
}

// Each test gets a communicator over MPI_COMM_WORLD, one device per local rank; skipped without GPU.
class NcclCommunicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int devices = NcclCommunicator::device_count();
    if (devices == 0) GTEST_SKIP() << "no CUDA device visible; " << NcclCommunicator::version_string();
    comm_ = std::make_unique<NcclCommunicator>(MPI_COMM_WORLD, local_device(devices));
  }
  std::unique_ptr<NcclCommunicator> comm_;
};

TEST_F(NcclCommunicatorTest, AllReduceSumsAcrossRanks) {
  NcclCommunicator& comm = *comm_;
  const size_t count = 1 << 20;
  std::vector<float> host(count);
  for (size_t i = 0; i < count; ++i) host[i] = static_cast<float>(comm.rank() + 1) * static_cast<float>(i % 7);
  float* device = to_device(host, count);
  comm.all_reduce_sum_sync(device, count);
  host = to_host(device, count);
  cudaFree(device);
  const float ranks_sum = static_cast<float>(comm.size() * (comm.size() + 1) / 2);
  for (size_t i = 0; i < count; i += 997) ASSERT_EQ(host[i], ranks_sum * static_cast<float>(i % 7)) << i;
}

TEST_F(NcclCommunicatorTest, ReduceScatterGivesEachRankItsSummedChunk) {
  NcclCommunicator& comm = *comm_;
  const size_t chunk = 4096, count = chunk * static_cast<size_t>(comm.size());
  std::vector<float> host(count);
  for (size_t i = 0; i < count; ++i) host[i] = static_cast<float>(comm.rank() + 1) * static_cast<float>(i % 7);
  float* input = to_device(host, count);
  float* output = to_device({}, chunk);
  comm.reduce_scatter_sum_sync(input, output, chunk, NcclCommunicator::Element::kFloat32);
  const std::vector<float> mine = to_host(output, chunk);
  cudaFree(input);
  cudaFree(output);
  const float ranks_sum = static_cast<float>(comm.size() * (comm.size() + 1) / 2);
  const size_t offset = chunk * static_cast<size_t>(comm.rank());
  for (size_t i = 0; i < chunk; ++i) ASSERT_EQ(mine[i], ranks_sum * static_cast<float>((offset + i) % 7)) << i;
}

TEST_F(NcclCommunicatorTest, AllGatherConcatenatesTheRanksChunks) {
  NcclCommunicator& comm = *comm_;
  const size_t chunk = 4096, count = chunk * static_cast<size_t>(comm.size());
  float* input = to_device(std::vector<float>(chunk, static_cast<float>(comm.rank() + 1)), chunk);
  float* output = to_device({}, count);
  comm.all_gather_sync(input, output, chunk, NcclCommunicator::Element::kFloat32);
  const std::vector<float> gathered = to_host(output, count);
  cudaFree(input);
  cudaFree(output);
  for (size_t i = 0; i < count; ++i) ASSERT_EQ(gathered[i], static_cast<float>(i / chunk + 1)) << i;
}

}  // namespace
}  // namespace nf::dist
