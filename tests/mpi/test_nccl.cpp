// The NCCL backend on GPU machines, one device per rank: every operation and dtype against a CPU
// reference, ordering after LibTorch's stream, the pipeline's send/recv pattern, the watchdog's
// message, the blocked-time accounting, tensor errors, and the mesh's backend choice. Skipped on
// every rank (and said so) where LibTorch sees fewer CUDA devices than there are ranks on a node.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "nf/core/error.h"
#include "nf/dist/mesh.h"
#include "nf/dist/mpi_communicator.h"
#include "nf/dist/nccl_communicator.h"

namespace nf::dist {
namespace {

using namespace std::chrono_literals;

int local_rank() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int rank = 0;
  MPI_Comm_rank(node, &rank);
  MPI_Comm_free(&node);
  return rank;
}

// Whether every rank has a GPU of its own; the same answer on every rank, so all skip together.
bool every_rank_has_a_gpu() {
  int mine = local_rank() < static_cast<int>(torch::cuda::device_count()) ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

// The values rank `rank` contributes: small integers, exact in every tested type and in any sum
// over up to 36 ranks (uint8).
torch::Tensor contribution(int rank, int64_t numel, torch::ScalarType type) {
  return ((torch::arange(numel, torch::kLong) * 3 + rank * 5) % 7).to(type);
}

// Every rank's contribution stacked along a new first dimension, on the CPU: the reference.
torch::Tensor all_contributions(int size, int64_t numel, torch::ScalarType type) {
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < size; ++r) parts.push_back(contribution(r, numel, type));
  return torch::stack(parts);
}

torch::Tensor reduce_reference(const torch::Tensor& stacked, ReduceOp op) {
  // In fp64, then back: sums of these integers are exact there, and bf16/fp16 reductions on the
  // CPU are not available for every op in LibTorch 1.13.
  const torch::Tensor wide = stacked.to(torch::kDouble);
  const torch::Tensor reduced = op == ReduceOp::kSum   ? wide.sum(0)
                                : op == ReduceOp::kMax ? std::get<0>(wide.max(0))
                                                       : std::get<0>(wide.min(0));
  return reduced.to(stacked.scalar_type());
}

const std::vector<torch::ScalarType> kTypes = {torch::kFloat, torch::kBFloat16, torch::kHalf, torch::kDouble,
                                               torch::kLong,  torch::kInt,      torch::kChar, torch::kByte};

class NcclBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!every_rank_has_a_gpu()) {
      GTEST_SKIP() << "needs one CUDA device per rank; LibTorch sees " << torch::cuda::device_count() << " ("
                   << NcclCommunicator::version_string() << ")";
    }
    device_ = local_rank();
    comm_ = make(60s);
  }

  std::unique_ptr<NcclCommunicator> make(std::chrono::milliseconds timeout) const {
    return std::make_unique<NcclCommunicator>(MPI_COMM_WORLD, "world", timeout, device_,
                                              NcclCommunicator::PointToPoint::kOn);
  }
  torch::Tensor on_gpu(const torch::Tensor& host) const {
    return host.to(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_)));
  }

  int device_ = 0;
  std::unique_ptr<NcclCommunicator> comm_;
};

TEST_F(NcclBackend, AllReduceMatchesTheCpuReferenceForEveryOpAndType) {
  NcclCommunicator& comm = *comm_;
  const int64_t numel = 1000;
  for (torch::ScalarType type : kTypes) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin}) {
      torch::Tensor tensor = on_gpu(contribution(comm.rank(), numel, type));
      comm.all_reduce(tensor, op)->wait();
      EXPECT_TRUE(torch::equal(tensor.cpu(), reduce_reference(all_contributions(comm.size(), numel, type), op)))
          << c10::toString(type) << " op " << static_cast<int>(op);
    }
  }
}

TEST_F(NcclBackend, ReduceScatterGivesEachRankItsReducedChunk) {
  NcclCommunicator& comm = *comm_;
  const int64_t chunk = 999, numel = chunk * comm.size();
  for (torch::ScalarType type : kTypes) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin}) {
      const torch::Tensor input = on_gpu(contribution(comm.rank(), numel, type));
      torch::Tensor output = on_gpu(torch::zeros({chunk}, type));
      comm.reduce_scatter(input, output, op)->wait();
      const torch::Tensor expected =
          reduce_reference(all_contributions(comm.size(), numel, type), op).narrow(0, comm.rank() * chunk, chunk);
      EXPECT_TRUE(torch::equal(output.cpu(), expected)) << c10::toString(type) << " op " << static_cast<int>(op);
    }
  }
}

TEST_F(NcclBackend, AllGatherConcatenatesTheRanksInputs) {
  NcclCommunicator& comm = *comm_;
  const int64_t chunk = 1001;
  for (torch::ScalarType type : kTypes) {
    const torch::Tensor input = on_gpu(contribution(comm.rank(), chunk, type));
    torch::Tensor output = on_gpu(torch::zeros({chunk * comm.size()}, type));
    comm.all_gather(input, output)->wait();
    EXPECT_TRUE(torch::equal(output.cpu(), all_contributions(comm.size(), chunk, type).reshape({-1})))
        << c10::toString(type);
  }
}

TEST_F(NcclBackend, BroadcastCopiesTheRootsTensorFromEveryRoot) {
  NcclCommunicator& comm = *comm_;
  for (torch::ScalarType type : kTypes) {
    for (int root = 0; root < comm.size(); ++root) {
      torch::Tensor tensor = on_gpu(contribution(comm.rank(), 513, type));
      comm.broadcast(tensor, root)->wait();
      EXPECT_TRUE(torch::equal(tensor.cpu(), contribution(root, 513, type))) << c10::toString(type) << " root " << root;
    }
  }
}

// Stage 0 sends two activations before it receives the first gradient, while stage 1 sends that
// gradient before it receives the second activation: 1F1B's steady state on two stages. With
// both directions on one stream each rank's stream would stall behind its own send; the messages
// (64 MiB) are far larger than what NCCL can buffer without a posted receive.
TEST_F(NcclBackend, PipelineSendsAndReceivesCrossWithoutDeadlock) {
  NcclCommunicator& comm = *comm_;
  if (comm.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  if (comm.rank() > 1) return;
  const int64_t numel = 16 << 20;
  const auto message = [&](int m, bool gradient) {
    return on_gpu(torch::full({numel}, static_cast<float>(10 * m + (gradient ? 1 : 0))));
  };
  std::vector<std::unique_ptr<Work>> sends;
  std::vector<torch::Tensor> received;
  if (comm.rank() == 0) {
    for (int m = 0; m < 2; ++m) sends.push_back(comm.send(message(m, false), 1, 2 * m));
    for (int m = 0; m < 2; ++m) {
      received.push_back(on_gpu(torch::zeros({numel})));
      comm.recv(received.back(), 1, 2 * m + 1)->wait();
    }
  } else {
    for (int m = 0; m < 2; ++m) {
      received.push_back(on_gpu(torch::zeros({numel})));
      comm.recv(received.back(), 0, 2 * m)->wait();
      sends.push_back(comm.send(message(m, true), 0, 2 * m + 1));
    }
  }
  for (auto& send : sends) send->wait();
  for (int m = 0; m < 2; ++m) {
    EXPECT_TRUE(torch::equal(received[m].cpu(), message(m, comm.rank() == 0).cpu())) << "message " << m;
  }
}

// The transfer must start after the kernels that produce its input and finish before the kernels
// that read its output, all queued on LibTorch's stream without a host synchronization between.
TEST_F(NcclBackend, OperationsAreOrderedWithLibTorchsStream) {
  NcclCommunicator& comm = *comm_;
  const torch::Tensor a = on_gpu(torch::full({2048, 2048}, 1.0f / 2048));
  torch::Tensor produced = a;
  for (int i = 0; i < 20; ++i) produced = torch::matmul(produced, a * 2048.0f) / 2048.0f;  // stays all 1/2048
  torch::Tensor summed = produced * 2048.0f + static_cast<float>(comm.rank());             // all rank + 1
  comm.all_reduce(summed, ReduceOp::kSum)->wait();
  const torch::Tensor consumed = summed * 2.0f;
  const float ranks_sum = static_cast<float>(comm.size() * (comm.size() + 1) / 2);
  EXPECT_TRUE(torch::allclose(consumed.cpu(), torch::full({2048, 2048}, 2.0f * ranks_sum), 1e-4, 1e-4));
}

// wait() blocks the host until the transfer completed, but counts as blocked only the time after
// the compute queued before it has run: that compute was not communication.
TEST_F(NcclBackend, BlockedSecondsLeaveOutTheComputeQueuedBeforeTheWait) {
  NcclCommunicator& comm = *comm_;
  const torch::Tensor a = on_gpu(torch::rand({4096, 4096}));
  torch::Tensor busy = a;
  for (int i = 0; i < 40; ++i) busy = torch::matmul(a, a);
  torch::Tensor small = on_gpu(torch::ones({16}));
  const double blocked_before = comm.blocked_seconds();
  const auto start = std::chrono::steady_clock::now();
  comm.all_reduce(small, ReduceOp::kSum)->wait();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double blocked = comm.blocked_seconds() - blocked_before;
  ASSERT_GT(waited, 0.01) << "the queued matmuls should keep the GPU busy for longer";
  EXPECT_GE(blocked, 0.0);
  EXPECT_LT(blocked, waited / 2) << "the queued compute was counted as communication";
  EXPECT_TRUE(torch::equal(small.cpu(), torch::full({16}, static_cast<float>(comm.size()))));
}

TEST_F(NcclBackend, BarrierReturnsOnEveryRank) {
  comm_->barrier();
  comm_->barrier();
}

// A timeout of zero expires at the first poll, while a 1 GiB gather is still copying: the wait
// aborts the communicator and throws the watchdog's message, the same as the MPI backend's.
TEST_F(NcclBackend, WatchdogAbortsAndNamesTheOperationAxisAndRank) {
  const std::unique_ptr<NcclCommunicator> comm = make(0ms);
  const int64_t chunk = (256 << 20) / comm->size();
  const torch::Tensor input = on_gpu(torch::ones({chunk}));
  torch::Tensor output = on_gpu(torch::zeros({chunk * comm->size()}));
  std::unique_ptr<Work> work = comm->all_gather(input, output);
  std::string message;
  try {
    work->wait();
  } catch (const DistError& e) {
    message = e.what();
  }
  const std::string rank = std::to_string(comm->rank()), size = std::to_string(comm->size());
  EXPECT_TRUE(std::regex_match(
      message, std::regex("all_gather on axis world \\(rank " + rank + " of " + size + ", world rank " + rank +
                          "\\) did not complete within 0\\.0 s: a peer rank died or stalled")))
      << message;
  EXPECT_THROW(work->wait(), DistError);                              // failed once, failed for good
  EXPECT_THROW(comm->all_reduce(output, ReduceOp::kSum), DistError);  // the communicator is aborted
  // The aborted copy may still be writing: let it end before the buffers return to the allocator.
  cudaDeviceSynchronize();
}

TEST_F(NcclBackend, TensorsNcclCannotTakeAreRefusedBeforeAnythingIsQueued) {
  NcclCommunicator& comm = *comm_;
  const auto message_of = [](const std::function<void()>& call) -> std::string {
    try {
      call();
    } catch (const DistError& e) {
      return e.what();
    }
    return "";
  };
  torch::Tensor host = torch::ones({8});
  EXPECT_NE(message_of([&] { comm.all_reduce(host, ReduceOp::kSum); }).find("all_reduce on axis world"),
            std::string::npos);
  EXPECT_NE(message_of([&] { comm.all_reduce(host, ReduceOp::kSum); }).find("got a tensor on cpu"), std::string::npos);
  torch::Tensor shorts = on_gpu(torch::ones({8}, torch::kShort));
  EXPECT_NE(message_of([&] { comm.all_reduce(shorts, ReduceOp::kSum); }).find("type Short"), std::string::npos);
  torch::Tensor strided = on_gpu(torch::ones({8, 8})).t();
  EXPECT_NE(message_of([&] { comm.broadcast(strided, 0); }).find("non-contiguous"), std::string::npos);
  torch::Tensor wrong_size = on_gpu(torch::ones({comm.size() * 4 + 1}));
  torch::Tensor chunk = on_gpu(torch::ones({4}));
  EXPECT_NE(message_of([&] { comm.reduce_scatter(wrong_size, chunk, ReduceOp::kSum); }).find("expected"),
            std::string::npos);
  EXPECT_NE(message_of([&] { comm.send(chunk, comm.rank(), 0); }).find("is not another rank"), std::string::npos);
  NcclCommunicator collectives_only(MPI_COMM_WORLD, "dp", 60s, device_, NcclCommunicator::PointToPoint::kOff);
  if (comm.size() > 1) {
    EXPECT_NE(message_of([&] {
                collectives_only.send(chunk, (comm.rank() + 1) % comm.size(), 0);
              }).find("without point-to-point channels"),
              std::string::npos);
  }
}

// On CUDA the mesh's axes are NCCL communicators and the world stays on MPI for host tensors.
TEST_F(NcclBackend, MeshOnCudaPutsTheAxesOnNcclAndTheWorldOnMpi) {
  ParallelConfig config;
  config.dp = comm_->size();
  const Mesh mesh(MeshShape::resolve(config, comm_->size()), MPI_COMM_WORLD, 60s,
                  torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_)));
  EXPECT_NE(dynamic_cast<NcclCommunicator*>(&mesh.dp()), nullptr);
  EXPECT_NE(dynamic_cast<NcclCommunicator*>(&mesh.tp()), nullptr);
  EXPECT_NE(dynamic_cast<NcclCommunicator*>(&mesh.pp()), nullptr);
  EXPECT_NE(dynamic_cast<MpiCommunicator*>(&mesh.world()), nullptr);
  torch::Tensor value = on_gpu(torch::ones({3}, torch::kDouble));
  mesh.dp().all_reduce(value, ReduceOp::kSum)->wait();
  EXPECT_TRUE(torch::equal(value.cpu(), torch::full({3}, static_cast<double>(comm_->size()), torch::kDouble)));
  torch::Tensor flag = torch::ones({1}, torch::kInt32);
  mesh.world().all_reduce(flag, ReduceOp::kMax)->wait();
  EXPECT_EQ(flag.item<int32_t>(), 1);
}

}  // namespace
}  // namespace nf::dist
