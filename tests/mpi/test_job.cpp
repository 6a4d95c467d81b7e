// Eight ranks agree on the resolved config and the mesh: every rank derives identical config
// text from the same files, and the mesh coordinates of all ranks tile the mesh exactly once.
#include <gtest/gtest.h>
#include <mpi.h>

#include <set>
#include <sstream>
#include <tuple>

#include "nf/core/hash.h"
#include "nf/core/logging.h"
#include "nf/dist/checks.h"
#include "nf/train/config.h"

namespace nf {
namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

TEST(MpiJob, RunsOnEightRanks) { EXPECT_EQ(world_size(), 8); }

TEST(MpiJob, EveryRankResolvesTheSameConfig) {
  const train::TrainConfig config =
      train::load_train_config(NF_SOURCE_DIR "/configs/pretrain_tiny.yaml",
                               {"--parallel.tp", "2", "--parallel.pp", "2"}, {NF_SOURCE_DIR "/configs"});
  const std::string digest = sha256_hex(train::to_yaml_text(config));
  std::vector<char> all(static_cast<size_t>(world_size()) * digest.size());
  MPI_Allgather(digest.data(), static_cast<int>(digest.size()), MPI_CHAR, all.data(), static_cast<int>(digest.size()),
                MPI_CHAR, MPI_COMM_WORLD);
  for (int rank = 0; rank < world_size(); ++rank) {
    EXPECT_EQ(std::string(all.data() + rank * digest.size(), digest.size()), digest) << "rank " << rank;
  }
}

TEST(MpiJob, MeshCoordinatesOfAllRanksTileTheMesh) {
  const train::TrainConfig config =
      train::load_train_config("", {"--parallel.tp", "2", "--parallel.pp", "2"}, {NF_SOURCE_DIR "/configs"});
  const dist::MeshShape mesh = train::validate_layout(config, world_size());
  ASSERT_EQ(mesh.dp(), 2);
  const dist::MeshCoords mine = mesh.coords(world_rank());
  const int64_t local[3] = {mine.tp, mine.dp, mine.pp};
  std::vector<int64_t> all(3 * static_cast<size_t>(world_size()));
  MPI_Allgather(local, 3, MPI_INT64_T, all.data(), 3, MPI_INT64_T, MPI_COMM_WORLD);
  std::set<std::tuple<int64_t, int64_t, int64_t>> seen;
  for (int rank = 0; rank < world_size(); ++rank) {
    const int64_t* c = &all[3 * static_cast<size_t>(rank)];
    EXPECT_TRUE(seen.insert({c[0], c[1], c[2]}).second);
    EXPECT_EQ(mesh.rank({c[0], c[1], c[2]}), rank);
  }
}

TEST(MpiJob, FailedMpiCallBecomesADistErrorNamingTheCall) {
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int value = 0;
  try {
    NF_CHECK_MPI(MPI_Send(&value, 1, MPI_INT, world_size() + 3, 0, MPI_COMM_WORLD));
    FAIL() << "expected DistError";
  } catch (const DistError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("MPI call MPI_Send(&value, 1, MPI_INT, world_size() + 3, 0, MPI_COMM_WORLD) failed: ", 0),
              0u)
        << message;
    EXPECT_NE(message.find("rank"), std::string::npos) << message;
    EXPECT_NE(message.find("test_job.cpp:"), std::string::npos) << message;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
}

TEST(MpiJob, LogLinesCarryTheRank) {
  std::ostringstream out;
  Logger log({world_rank(), world_size(), LogLevel::kInfo, true}, &out);
  log.info("hello");
  EXPECT_EQ(out.str().rfind("[rank " + std::to_string(world_rank()) + "/8] ", 0), 0u) << out.str();
}

}  // namespace
}  // namespace nf
