// The mesh's axis communicators hold exactly the ranks the rank formula says, in coordinate
// order, on every layout of 8 ranks.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include "nf/dist/mesh.h"

namespace nf::dist {
namespace {

using namespace std::chrono_literals;

class MeshLayouts : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(MeshLayouts, AxisGroupsFollowTheRankFormula) {
  const auto [tp, pp, dp] = GetParam();
  ParallelConfig config;
  config.tp = tp;
  config.pp = pp;
  config.dp = dp;
  int world_size = 0, world_rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  const Mesh mesh(MeshShape::resolve(config, world_size), MPI_COMM_WORLD, 30s, torch::kCPU);
  EXPECT_EQ(mesh.tp().rank(), mesh.coords().tp);
  EXPECT_EQ(mesh.dp().rank(), mesh.coords().dp);
  EXPECT_EQ(mesh.pp().rank(), mesh.coords().pp);
  EXPECT_EQ(mesh.tp().size(), tp);
  EXPECT_EQ(mesh.dp().size(), dp);
  EXPECT_EQ(mesh.pp().size(), pp);
  // Gathering world ranks along each axis must list exactly the ranks that differ in that axis.
  const struct {
    Communicator* comm;
    int axis;
  } axes[] = {{&mesh.tp(), 0}, {&mesh.dp(), 1}, {&mesh.pp(), 2}};
  for (const auto& [comm, axis] : axes) {
    const torch::Tensor mine = torch::full({1}, static_cast<int64_t>(world_rank));
    torch::Tensor all = torch::empty({comm->size()}, torch::kLong);
    comm->all_gather(mine, all)->wait();
    for (int i = 0; i < comm->size(); ++i) {
      MeshCoords expected = mesh.coords();
      (axis == 0 ? expected.tp : axis == 1 ? expected.dp : expected.pp) = i;
      EXPECT_EQ(all[i].item<int64_t>(), mesh.shape().rank(expected)) << comm->axis() << " member " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EightRanks, MeshLayouts,
                         ::testing::Values(std::make_tuple(2, 2, 2), std::make_tuple(8, 1, 1), std::make_tuple(1, 8, 1),
                                           std::make_tuple(1, 1, 8), std::make_tuple(2, 4, 1),
                                           std::make_tuple(4, 1, 2)));

}  // namespace
}  // namespace nf::dist
