// The MPI backend on odd world sizes and odd shapes: every collective and p2p against values
// each rank can compute locally; bad arguments fail with DistError instead of corrupting memory.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include "nf/core/error.h"
#include "nf/dist/mpi_communicator.h"

namespace nf::dist {
namespace {

using namespace std::chrono_literals;

MpiCommunicator make_world() { return MpiCommunicator(MPI_COMM_WORLD, "world", 30s); }

// A value every rank can compute for any (rank, index): makes expected results local.
torch::Tensor pattern(int rank, int64_t numel, torch::Dtype dtype) {
  return (torch::arange(numel, torch::kDouble).remainder(97) + 1000.0 * rank).to(dtype);
}

class Collectives : public ::testing::TestWithParam<int64_t> {};

TEST_P(Collectives, AllReduceSumMaxMin) {
  MpiCommunicator world = make_world();
  const int64_t numel = GetParam();
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kLong}) {
    torch::Tensor expected_sum = torch::zeros({numel}, torch::kDouble);
    for (int r = 0; r < world.size(); ++r) expected_sum += pattern(r, numel, torch::kDouble);
    torch::Tensor sum = pattern(world.rank(), numel, dtype);
    world.all_reduce(sum, ReduceOp::kSum)->wait();
    EXPECT_TRUE(torch::equal(sum.to(torch::kDouble), expected_sum)) << dtype;
    torch::Tensor max = pattern(world.rank(), numel, dtype);
    world.all_reduce(max, ReduceOp::kMax)->wait();
    EXPECT_TRUE(torch::equal(max, pattern(world.size() - 1, numel, dtype)));
    torch::Tensor min = pattern(world.rank(), numel, dtype);
    world.all_reduce(min, ReduceOp::kMin)->wait();
    EXPECT_TRUE(torch::equal(min, pattern(0, numel, dtype)));
  }
}

TEST_P(Collectives, ReduceScatterGivesEachRankItsReducedChunk) {
  MpiCommunicator world = make_world();
  const int64_t chunk = GetParam();
  const torch::Tensor input = pattern(world.rank(), chunk * world.size(), torch::kFloat);
  torch::Tensor output = torch::empty({chunk}, torch::kFloat);
  world.reduce_scatter(input, output, ReduceOp::kSum)->wait();
  torch::Tensor expected = torch::zeros({chunk}, torch::kDouble);
  for (int r = 0; r < world.size(); ++r) {
    expected += pattern(r, chunk * world.size(), torch::kDouble).narrow(0, chunk * world.rank(), chunk);
  }
  EXPECT_TRUE(torch::allclose(output.to(torch::kDouble), expected));
}

TEST_P(Collectives, AllGatherConcatenatesInRankOrder) {
  MpiCommunicator world = make_world();
  const int64_t numel = GetParam();
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const torch::Tensor input = pattern(world.rank(), numel, dtype);
    torch::Tensor output = torch::empty({numel * world.size()}, dtype);
    world.all_gather(input, output)->wait();
    for (int r = 0; r < world.size(); ++r) {
      EXPECT_TRUE(torch::equal(output.narrow(0, r * numel, numel), pattern(r, numel, dtype))) << "chunk " << r;
    }
  }
}

TEST_P(Collectives, BroadcastFromTheLastRank) {
  MpiCommunicator world = make_world();
  const int root = world.size() - 1;
  torch::Tensor tensor = pattern(world.rank(), GetParam(), torch::kLong);
  world.broadcast(tensor, root)->wait();
  EXPECT_TRUE(torch::equal(tensor, pattern(root, GetParam(), torch::kLong)));
}

TEST_P(Collectives, SendRecvAroundARing) {
  MpiCommunicator world = make_world();
  const int next = (world.rank() + 1) % world.size();
  const int previous = (world.rank() + world.size() - 1) % world.size();
  const torch::Tensor outgoing = pattern(world.rank(), GetParam(), torch::kFloat);
  torch::Tensor incoming = torch::empty({GetParam()}, torch::kFloat);
  auto receive = world.recv(incoming, previous, 7);
  auto send = world.send(outgoing, next, 7);
  receive->wait();
  send->wait();
  EXPECT_TRUE(torch::equal(incoming, pattern(previous, GetParam(), torch::kFloat)));
}

INSTANTIATE_TEST_SUITE_P(OddSizes, Collectives, ::testing::Values(1, 7, 4099, 1 << 20 | 3));

TEST(Communicator, OverlappingOperationsCompleteIndependently) {
  MpiCommunicator world = make_world();
  std::vector<torch::Tensor> buckets;
  std::vector<std::unique_ptr<Work>> pending;
  for (int bucket = 0; bucket < 5; ++bucket) buckets.push_back(torch::full({1000 + bucket}, 1.0f));
  for (auto& bucket : buckets) pending.push_back(world.all_reduce(bucket, ReduceOp::kSum));
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) (*it)->wait();  // in reverse order
  for (auto& bucket : buckets) EXPECT_TRUE(torch::all(bucket == world.size()).item<bool>());
}

TEST(Communicator, RejectsWhatMpiCannotDoSafely) {
  MpiCommunicator world = make_world();
  torch::Tensor strided = torch::zeros({4, 4}).t();
  EXPECT_THROW(world.all_reduce(strided, ReduceOp::kSum), DistError);
  torch::Tensor bf16 = torch::zeros({4}, torch::kBFloat16);
  EXPECT_THROW(world.all_reduce(bf16, ReduceOp::kSum), DistError);
  torch::Tensor small = torch::zeros({3});
  EXPECT_THROW(world.reduce_scatter(torch::zeros({3 * world.size() + 1}), small, ReduceOp::kSum), DistError);
  world.barrier();
}

}  // namespace
}  // namespace nf::dist
