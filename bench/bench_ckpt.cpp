// bench-ckpt: save and load bandwidth of training checkpoints on this machine's disk, through the
// code nf-train and nf-ckpt run: save_checkpoint (every rank writes its tp shard of the model and
// of the AdamW moments at once, safetensors + fsync + SHA-256 of every file), load_checkpoint
// (SHA-256 check and read of the rank's own files) and, with --consolidate, consolidate_checkpoint
// (nf-ckpt consolidate: the shards read back and written as one checkpoint), loading that one
// at this layout (each rank reshards its rows out of it), and writing the same consolidated
// checkpoint at save time (write_consolidated_files, as checkpoint.consolidate does). The model is synthetic: the
// parameters of a Llama config, random fp32, split over tp = the world size, with zero-0 AdamW moments. Before every
// load the files' page cache is dropped (posix_fadvise DONTNEED: they are clean after the fsync), so the loads read the
// disk. Rank 0 prints one line per measurement:
//   result <what> <ranks> <bytes> <seconds>
// scripts/bench_ckpt.sh runs it at 1 and 2 ranks next to dd and prints the table.
//   mpirun -n 2 build/bench/bench-ckpt --dir DIR [--d-model 512] [--layers 8] [--vocab 32000] [--consolidate]
#include <fcntl.h>
#include <mpi.h>
#include <torch/torch.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/consolidated.h"
#include "nf/ckpt/hf_export.h"
#include "nf/ckpt/reshard.h"
#include "nf/core/cli.h"
#include "nf/dist/job.h"
#include "nf/model/sharding.h"
#include "nf/train/config.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

uint64_t directory_bytes(const fs::path& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : fs::directory_iterator(dir)) bytes += entry.is_regular_file() ? entry.file_size() : 0;
  return bytes;
}

// Evicts the files of `dir` from the page cache (their pages are clean: nf fsyncs what it writes).
void drop_page_cache(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const int fd = ::open(entry.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

// Wall seconds of `body` from a barrier to a barrier: the slowest rank's time.
double timed(const nf::dist::Mesh& mesh, const std::function<void()>& body) {
  mesh.world().barrier();
  const auto start = Clock::now();
  body();
  mesh.world().barrier();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// This rank's shards of random parameters and moments, and what it holds, as a job would.
nf::ckpt::RankShards synthetic_shards(const nf::train::TrainConfig& config, const nf::dist::Mesh& mesh,
                                      std::vector<nf::ckpt::ParameterShard>& targets) {
  const nf::dist::Communicator* tp = mesh.shape().tp() > 1 ? &mesh.tp() : nullptr;
  nf::ckpt::RankShards shards;
  shards.optimizer.emplace_back("step", torch::scalar_tensor(1, torch::kLong));
  for (const auto& [name, full_shape] : nf::model::parameter_table(config.model)) {
    const nf::parallel::tp::ShardSpec spec = nf::model::shard_spec_of(config.model, name, tp);
    targets.push_back({name, full_shape, spec});
    const std::vector<int64_t> shape = nf::parallel::tp::shard_shape(full_shape, spec);
    shards.model.emplace_back(name, torch::randn(shape));
    shards.model_metadata["shard." + name] = nf::ckpt::shard_metadata(spec);
    shards.optimizer.emplace_back(name + ".exp_avg", torch::randn(shape));
    shards.optimizer.emplace_back(name + ".exp_avg_sq", torch::rand(shape));
  }
  return shards;
}

int run(const nf::dist::JobContext& job) {
  std::string dir;
  bool consolidate = false;
  nf::train::TrainConfig config;
  config.model.d_model = 512;
  config.model.n_layers = 8;
  config.model.n_heads = 8;
  config.model.vocab_size = 32000;
  CLI::App app("checkpoint save/load bandwidth", "bench-ckpt");
  app.add_option("--dir", dir, "directory to write the checkpoints in (created; on the disk to measure)")->required();
  app.add_option("--d-model", config.model.d_model, "model width (default 512)");
  app.add_option("--layers", config.model.n_layers, "decoder layers (default 8: ~59M parameters, 0.7 GB saved)");
  app.add_option("--vocab", config.model.vocab_size, "vocabulary size (default 32000)");
  app.add_flag("--consolidate", consolidate, "also consolidate the checkpoint (rank 0) and load that one");
  bool parsed = false;  // false after --help or a usage error, which run_cli has reported
  app.callback([&] { parsed = true; });
  if (const int code = nf::run_cli(app, job.args); !parsed) return code;
  torch::set_num_threads(1);
  config.parallel.tp = job.world_size;
  const nf::dist::MeshShape shape = nf::train::validate_layout(config, job.world_size);
  const nf::dist::Mesh mesh(shape, MPI_COMM_WORLD, std::chrono::minutes(10), c10::Device(c10::kCPU));
  const bool root = job.rank == 0;
  const auto report = [&](const char* what, const fs::path& step_dir, double seconds) {
    if (root)
      std::printf("result %s %d %llu %.6f\n", what, job.world_size,
                  static_cast<unsigned long long>(directory_bytes(step_dir)), seconds);
    std::fflush(stdout);
  };
  const auto drop = [&](const fs::path& step_dir) {
    if (root) drop_page_cache(step_dir);
    mesh.world().barrier();
  };

  std::vector<nf::ckpt::ParameterShard> targets;
  const nf::ckpt::RankShards shards = synthetic_shards(config, mesh, targets);
  nf::ckpt::CheckpointMeta meta;
  meta.step = 1;
  meta.tp = shape.tp();
  const std::string checkpoints = dir + "/checkpoints", yaml = nf::train::to_yaml_text(config);
  if (root) fs::create_directories(checkpoints);
  std::string step_dir;
  const double save = timed(mesh, [&] {
    const std::string staging = nf::ckpt::begin_checkpoint(checkpoints, meta.step, mesh);
    nf::ckpt::write_checkpoint_files(staging, meta, shards, yaml, mesh.coords());
    step_dir = nf::ckpt::commit_checkpoint(checkpoints, meta, mesh, 0);
  });
  report("save", step_dir, save);
  drop(step_dir);
  report("load", step_dir, timed(mesh, [&] {
           nf::ckpt::load_checkpoint(step_dir, {config.model, config.parallel}, mesh, targets);
         }));
  if (!consolidate) return 0;
  const std::string consolidated = dir + "/consolidated";
  drop(step_dir);  // the load above read it back into the cache
  const double seconds = timed(mesh, [&] {
    if (root) nf::ckpt::consolidate_checkpoint(step_dir, consolidated);
  });
  report("consolidate", consolidated, seconds);
  drop(consolidated);
  report("load-consolidated", consolidated, timed(mesh, [&] {
           nf::ckpt::load_checkpoint(consolidated, {config.model, config.parallel}, mesh, targets);
         }));
  // The same checkpoint written by the job itself (checkpoint.consolidate): gathered as it is written.
  nf::ckpt::CheckpointMeta whole = nf::ckpt::consolidated_meta(meta);
  whole.step = 2;
  std::string gathered;
  const double gather_seconds = timed(mesh, [&] {
    const std::string staging = nf::ckpt::begin_checkpoint(checkpoints, whole.step, mesh);
    nf::ckpt::write_consolidated_files(staging, shards, /*zero=*/false, config.model, yaml, mesh);
    gathered = nf::ckpt::commit_checkpoint(checkpoints, whole, mesh, 0);
  });
  report("save-consolidated", gathered, gather_seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return nf::dist::run_job(argc, argv, run); }
