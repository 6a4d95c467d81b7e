// The ckpt layer's saves on real ranks, below the e2e tier: on a tp 2 × dp 2 mesh (a vocabulary
// that tp pads), one rank's shards of a known model and optimizer state are
//  - saved by CheckpointSaver synchronously and in the background: the same bytes in every file,
//    and the background save holds the values at save() time even when training changes them
//    before it commits (the snapshot);
//  - saved consolidated at save time (write_consolidated_files, gathered over the ranks): the
//    same bytes as nf-ckpt consolidate of the sharded save (consolidate_checkpoint);
//  - loaded back (load_checkpoint) from both: this rank's own shards, as saved, and the trainer's
//    state kept opaque.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "../support/tiny_model.h"
#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/consolidated.h"
#include "nf/ckpt/reshard.h"
#include "nf/ckpt/saver.h"
#include "nf/model/sharding.h"
#include "nf/parallel/tp/shard.h"

namespace nf::ckpt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

dist::Mesh make_mesh() {
  dist::ParallelConfig parallel;
  parallel.tp = 2;
  return dist::Mesh(dist::MeshShape::resolve(parallel, 4), MPI_COMM_WORLD, 60s, torch::kCPU);
}

// A full tensor that depends only on the parameter and what it is (value or moment).
torch::Tensor full_value(const std::string& name, const std::vector<int64_t>& shape, int kind) {
  torch::manual_seed(static_cast<uint64_t>(std::hash<std::string>()(name)) + kind);
  return kind == 2 ? torch::rand(shape) : torch::randn(shape);
}

// This rank's shards of the model and of zero-0 AdamW state, as a job holds them.
RankShards rank_shards(const model::ModelConfig& config, const dist::Mesh& mesh, std::vector<ParameterShard>& targets) {
  RankShards shards;
  shards.optimizer.emplace_back("step", torch::scalar_tensor(3, torch::kLong));
  for (const auto& [name, full_shape] : model::parameter_table(config)) {
    const parallel::tp::ShardSpec spec = model::shard_spec_of(config, name, &mesh.tp());
    targets.push_back({name, full_shape, spec});
    shards.model.emplace_back(name, parallel::tp::take_shard(full_value(name, full_shape, 0), spec));
    shards.model_metadata["shard." + name] = shard_metadata(spec);
    shards.optimizer.emplace_back(name + ".exp_avg", parallel::tp::take_shard(full_value(name, full_shape, 1), spec));
    shards.optimizer.emplace_back(name + ".exp_avg_sq",
                                  parallel::tp::take_shard(full_value(name, full_shape, 2), spec));
  }
  return shards;
}

CheckpointMeta step_meta(const dist::Mesh& mesh) {
  CheckpointMeta meta;
  meta.step = 3;
  meta.tp = mesh.shape().tp();
  meta.dp = mesh.shape().dp();
  meta.trainer_state = {{"loader", {{"consumed_samples", 24}}}, {"tokens_seen", 768}};
  return meta;
}

std::string config_yaml(const model::ModelConfig& config) {
  std::ostringstream yaml;
  yaml << "model:\n  vocab_size: " << config.vocab_size << "\n  d_model: " << config.d_model
       << "\n  n_layers: " << config.n_layers << "\n  n_heads: " << config.n_heads
       << "\n  n_kv_heads: " << config.n_kv_heads << "\n  ffn_hidden: " << config.ffn_hidden
       << "\nparallel:\n  tp: 2\n  dp: 2\n  zero: 0\ntraining:\n  seed: 7\n";
  return yaml.str();
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file of two step directories, byte for byte.
void expect_same_files(const fs::path& a, const fs::path& b) {
  std::vector<std::string> names_a, names_b;
  for (const auto& entry : fs::directory_iterator(a)) names_a.push_back(entry.path().filename().string());
  for (const auto& entry : fs::directory_iterator(b)) names_b.push_back(entry.path().filename().string());
  std::sort(names_a.begin(), names_a.end());
  std::sort(names_b.begin(), names_b.end());
  ASSERT_EQ(names_a, names_b);
  for (const std::string& name : names_a) EXPECT_EQ(bytes_of(a / name), bytes_of(b / name)) << name;
}

// A directory every rank agrees on, removed at the end.
class SharedDir {
 public:
  explicit SharedDir(const dist::Mesh& mesh) : mesh_(mesh) {
    char name[] = "/tmp/nf-ckpt-saves-XXXXXX";
    if (mesh.world().rank() == 0 && !::mkdtemp(name)) std::abort();
    MPI_Bcast(name, sizeof(name), MPI_CHAR, 0, MPI_COMM_WORLD);
    path_ = name;
  }
  ~SharedDir() {
    mesh_.world().barrier();
    if (mesh_.world().rank() == 0) fs::remove_all(path_);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  const dist::Mesh& mesh_;
  std::string path_;
};

// What both tests start from: the tp 2 x dp 2 mesh, a shared directory, this rank's shards of the
// tiny model and the targets they are, and a logger whose lines go to a string (they are not what
// is tested here).
class CkptSaves : public ::testing::Test {
 protected:
  CkptSaves()
      : mesh(make_mesh()), dir(mesh), log(log_options(mesh), &log_lines), shards(rank_shards(config, mesh, targets)) {
    job.model = config;
    job.parallel.tp = 2;
  }
  static LoggerOptions log_options(const dist::Mesh& mesh) {
    LoggerOptions options;
    options.rank = mesh.world().rank();
    options.world_size = mesh.world().size();
    return options;
  }

  const model::ModelConfig config = testing::tiny_model_config();
  const dist::Mesh mesh;
  SharedDir dir;
  std::ostringstream log_lines;
  Logger log;
  std::vector<ParameterShard> targets;
  RankShards shards;
  ModelLayout job;  // the layout of this job, for load_checkpoint
};

TEST_F(CkptSaves, AsyncSaveWritesWhatSyncWritesAndSnapshotsTheState) {
  std::vector<torch::Tensor> originals;
  for (const auto& [name, tensor] : shards.model) originals.push_back(tensor.clone());

  CheckpointSaver sync(dir / "sync", mesh, 0, /*async=*/false, sharded_files(mesh), log);
  const std::string sync_dir = sync.save(step_meta(mesh), shards, config_yaml(config));
  CheckpointSaver background(dir / "async", mesh, 0, /*async=*/true, sharded_files(mesh), log);
  const std::string async_dir = background.save(step_meta(mesh), shards, config_yaml(config));
  for (auto& [name, tensor] : shards.model) tensor.add_(1.0);  // training goes on before the commit
  background.finish();

  if (mesh.world().rank() == 0) expect_same_files(sync_dir, async_dir);
  const LoadedCheckpoint loaded = load_checkpoint(async_dir, job, mesh, targets);
  EXPECT_FALSE(loaded.resharded);
  EXPECT_EQ(loaded.meta.trainer_state, step_meta(mesh).trainer_state);
  ASSERT_EQ(loaded.model_shard.size(), originals.size());
  for (size_t i = 0; i < originals.size(); ++i) {
    EXPECT_TRUE(torch::equal(loaded.model_shard[i].second, originals[i])) << loaded.model_shard[i].first;
  }
}

TEST_F(CkptSaves, ConsolidatedAtSaveTimeEqualsOfflineConsolidation) {
  CheckpointSaver sharded(dir / "sharded", mesh, 0, false, sharded_files(mesh), log);
  const std::string sharded_dir = sharded.save(step_meta(mesh), shards, config_yaml(config));
  CheckpointSaver whole(dir / "whole", mesh, 0, false, consolidated_files(config, /*zero=*/false, mesh), log);
  const std::string whole_dir = whole.save(consolidated_meta(step_meta(mesh)), shards, config_yaml(config));
  if (mesh.world().rank() == 0) {
    consolidate_checkpoint(sharded_dir, dir / "offline");
    expect_same_files(whole_dir, dir / "offline");
  }
  mesh.world().barrier();

  // The consolidated checkpoint resharded back into this rank's shards gives what it saved.
  const LoadedCheckpoint loaded = load_checkpoint(whole_dir, job, mesh, targets);
  EXPECT_TRUE(loaded.resharded);
  ASSERT_EQ(loaded.model_shard.size(), shards.model.size());
  for (size_t i = 0; i < shards.model.size(); ++i) {
    EXPECT_TRUE(torch::equal(loaded.model_shard[i].second, shards.model[i].second)) << shards.model[i].first;
  }
}

}  // namespace
}  // namespace nf::ckpt
