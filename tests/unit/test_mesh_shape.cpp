// Mesh arithmetic: the rank formula round-trips, axes nest as documented, and a bad layout's
// error names every factor.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "nf/core/error.h"
#include "nf/dist/mesh_shape.h"

namespace nf::dist {
namespace {

ParallelConfig layout(int64_t tp, int64_t pp, int64_t dp) {
  ParallelConfig config;
  config.tp = tp;
  config.pp = pp;
  config.dp = dp;
  return config;
}

TEST(MeshShape, EveryRankMapsToUniqueCoordinatesAndBack) {
  for (int64_t tp : {1, 2, 4}) {
    for (int64_t pp : {1, 2, 3}) {
      for (int64_t dp : {1, 2, 5}) {
        const MeshShape mesh = MeshShape::resolve(layout(tp, pp, dp), tp * pp * dp);
        std::set<std::tuple<int64_t, int64_t, int64_t>> seen;
        for (int64_t rank = 0; rank < mesh.world_size(); ++rank) {
          const MeshCoords c = mesh.coords(rank);
          EXPECT_EQ(mesh.rank(c), rank);
          EXPECT_TRUE(seen.insert({c.tp, c.dp, c.pp}).second);
        }
        EXPECT_EQ(static_cast<int64_t>(seen.size()), tp * pp * dp);
      }
    }
  }
}

TEST(MeshShape, TensorParallelIsInnermostThenDataThenPipeline) {
  const MeshShape mesh = MeshShape::resolve(layout(2, 2, 2), 8);
  // TP groups are consecutive ranks: {0,1}, {2,3}, ...
  EXPECT_EQ(mesh.coords(1).tp, 1);
  EXPECT_EQ(mesh.coords(1).dp, 0);
  EXPECT_EQ(mesh.coords(2).dp, 1);
  EXPECT_EQ(mesh.coords(2).tp, 0);
  EXPECT_EQ(mesh.coords(4).pp, 1);
  EXPECT_EQ(mesh.coords(4).dp, 0);
  EXPECT_EQ(mesh.rank({1, 1, 1}), 7);
}

TEST(MeshShape, DataParallelSizeIsDerivedWhenZero) {
  EXPECT_EQ(MeshShape::resolve(layout(2, 2, 0), 8).dp(), 2);
  EXPECT_EQ(MeshShape::resolve(layout(1, 1, 0), 3).dp(), 3);
}

TEST(MeshShape, MismatchNamesEveryFactor) {
  try {
    MeshShape::resolve(layout(2, 2, 3), 8);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "parallel: tp(2) * pp(2) * dp(3) = 12 != world size 8");
  }
  try {
    MeshShape::resolve(layout(4, 1, 0), 6);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "parallel: world size 6 is not divisible by tp(4) * pp(1) = 4");
  }
}

TEST(MeshShape, OutOfRangeRankOrCoordinatesThrow) {
  const MeshShape mesh = MeshShape::resolve(layout(2, 1, 2), 4);
  EXPECT_THROW(mesh.coords(4), DistError);
  EXPECT_THROW(mesh.rank({2, 0, 0}), DistError);
  EXPECT_EQ(mesh.describe(), "tp 2 × pp 1 × dp 2 = 4 ranks");
}

}  // namespace
}  // namespace nf::dist
