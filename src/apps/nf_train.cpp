// nf-train: the trainer's entry point. One process per rank, launched by mpirun or srun.
//
//   nf-train --config configs/pretrain_tiny.yaml [--dry-run] [--section.key value ...]
// A config with a `stages:` list runs its stages in order (nf/train/stages.h).
#include <torch/cuda.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/logging.h"
#include "nf/dist/job.h"
#include "nf/dist/mesh.h"
#include "nf/train/config.h"
#include "nf/train/stages.h"
#include "nf/train/trainer.h"

namespace {

constexpr const char* kUsage =
    "usage: nf-train --config FILE [options] [--section.key value ...]\n"
    "  --config FILE     YAML config (may inherit a preset: tiny, small, base)\n"
    "  --resume auto|DIR resume from the run's latest checkpoint or a step directory\n"
    "  --dry-run         resolve and validate the config for this world size, write the\n"
    "                    resolved config to the run directory, print the plan, and exit\n"
    "  --print-config    print the resolved config as YAML and exit\n"
    "  --config-doc      print the reference of every config key (docs/config.md) and exit\n"
    "  --section.key V   override one key, e.g. --model.d_model 256 --parallel.tp 2\n"
    "A config with a stages: list runs its stages in turn, skipping those already complete\n"
    "(docs/stages.md).\n";

struct Arguments {
  std::string config_file;
  bool dry_run = false;
  bool print_config = false;
  bool config_doc = false;
  bool help = false;
  std::vector<std::string> overrides;
};

Arguments parse_arguments(const std::vector<std::string>& args) {
  Arguments out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--config") {
      if (i + 1 >= args.size()) throw nf::UsageError("--config needs a file", "nf-train --config configs/tiny.yaml");
      out.config_file = args[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      out.config_file = arg.substr(9);
    } else if (arg == "--resume") {
      if (i + 1 >= args.size())
        throw nf::UsageError("--resume needs auto or a checkpoint directory", "nf-train --config c.yaml --resume auto");
      out.overrides.push_back("--checkpoint.resume");
      out.overrides.push_back(args[++i]);
    } else if (arg == "--dry-run") {
      out.dry_run = true;
    } else if (arg == "--print-config") {
      out.print_config = true;
    } else if (arg == "--config-doc") {
      out.config_doc = true;
    } else if (arg == "-h" || arg == "--help") {
      out.help = true;
    } else {
      out.overrides.push_back(arg);
    }
  }
  return out;
}

std::vector<std::string> preset_dirs() {
  std::vector<std::string> dirs;
  if (const char* extra = std::getenv("NF_CONFIG_PATH")) {
    std::stringstream list(extra);
    for (std::string dir; std::getline(list, dir, ':');) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  dirs.push_back(NF_DEFAULT_CONFIG_DIR);
  return dirs;
}

// One GPU per rank, the local rank's, when LibTorch sees CUDA devices; else the CPU. NCCL cannot
// put two ranks of one communicator on the same GPU, so ranks beyond the node's GPUs are an error.
c10::Device pick_device(const nf::dist::JobContext& job) {
  if (!torch::cuda::is_available()) return c10::Device(c10::kCPU);
  const int devices = static_cast<int>(torch::cuda::device_count());
  if (job.local_rank >= devices) {
    throw nf::UsageError("local rank " + std::to_string(job.local_rank) + " has no GPU of its own: " +
                             std::to_string(devices) + " CUDA device(s) visible on this node",
                         "launch at most one rank per GPU on each node, or hide the GPUs (CUDA_VISIBLE_DEVICES=) "
                         "to train on the CPU");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(job.local_rank));
}

// One stage (the whole run for a config without `stages:`): validate, write the resolved config,
// and train. Returns the exit code.
int run_stage(const nf::dist::JobContext& job, const Arguments& args, const nf::train::StagePlan& stage) {
  const nf::train::TrainConfig& config = stage.config;
  nf::Logger log({job.rank, job.world_size, config.logging.level, config.logging.all_ranks});
  const std::string prefix = stage.name.empty() ? "" : "stage " + stage.name + ": ";
  const nf::dist::MeshShape shape = nf::train::validate_layout(config, job.world_size);
  if (!stage.name.empty() && !args.dry_run) {
    if (const auto done = nf::train::completed_checkpoint(stage)) {
      log.info(prefix, "complete (", *done, " is at training.max_steps); skipping");
      return 0;
    }
  }
  const std::string& run_dir = stage.run_dir;
  if (job.rank == 0) nf::write_file_atomic(run_dir + "/config.yaml", nf::train::to_yaml_text(config));
  const nf::dist::MeshCoords coords = shape.coords(job.rank);
  log.info(prefix, "layout ", shape.describe(), "; this rank is tp ", coords.tp, ", dp ", coords.dp, ", pp ", coords.pp,
           " (local rank ", job.local_rank, ")");
  log.info("model: ", nf::model::count_parameters(config.model), " parameters, ", config.model.n_layers,
           " layers, d_model ", config.model.d_model, ", vocab ", config.model.vocab_size);  // before any allocation
  log.info("resolved config written to ", run_dir, "/config.yaml");
  if (args.dry_run) return 0;
  if (job.rank == 0) {
    std::filesystem::create_directories(run_dir + "/logs");
    log.add_file(run_dir + "/logs/train.log");
  }
  const c10::Device device = pick_device(job);
  log.info("device ", device.str(),
           device.is_cuda() ? ": tp, dp and pp over NCCL, host-side agreement over MPI" : ": every axis over MPI");
  const nf::dist::Mesh mesh(
      shape, MPI_COMM_WORLD,
      std::chrono::milliseconds(static_cast<int64_t>(config.parallel.collective_timeout_s * 1000)), device);
  const nf::train::TrainResult result = nf::train::train(config, run_dir, mesh, device, log);
  if (result.preempted) return static_cast<int>(nf::ExitCode::kPreempted);
  // Nothing trained and nothing saved: the run resumed at training.max_steps (a requeued or
  // resubmitted job whose run had already finished). There is no loss to report.
  if (result.checkpoint.empty()) {
    log.info(prefix, "done: the run is already at step ", result.step, " (training.max_steps); nothing to train");
    return 0;
  }
  log.info(prefix, "done: ", result.step, " steps, final loss ", result.last_loss, ", checkpoint ", result.checkpoint);
  return 0;
}

int run(const nf::dist::JobContext& job) {
  const Arguments args = parse_arguments(job.args);
  if (args.help) {
    if (job.rank == 0) std::cout << kUsage;
    return 0;
  }
  if (args.config_doc) {
    if (job.rank == 0) std::cout << nf::train::config_reference_markdown();
    return 0;
  }
  const std::vector<nf::train::StagePlan> stages =
      nf::train::load_stage_plan(args.config_file, args.overrides, preset_dirs());
  if (args.print_config) {
    for (const nf::train::StagePlan& stage : stages) {
      if (job.rank != 0) continue;
      if (!stage.name.empty()) std::cout << "# stage " << stage.name << " (" << stage.run_dir << ")\n";
      std::cout << nf::train::to_yaml_text(stage.config);
    }
    return 0;
  }
  // Stages run in order; one that stops (preempted, exit 75) ends the job, and the requeued job
  // skips the stages already complete.
  for (const nf::train::StagePlan& stage : stages) {
    const int code = run_stage(job, args, stage);
    if (code != 0) return code;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return nf::dist::run_job(argc, argv, run); }
