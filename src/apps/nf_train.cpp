// nf-train: the trainer's entry point. One process per rank, launched by mpirun or srun.
//
//   nf-train --config configs/pretrain_tiny.yaml [--dry-run] [--section.key value ...]
// A config with a `stages:` list runs its stages in order (nf/train/stages.h).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/logging.h"
#include "nf/dist/job.h"
#include "nf/dist/mesh.h"
#include "nf/dist/rank_device.h"
#include "nf/train/config.h"
#include "nf/train/planner.h"
#include "nf/train/stages.h"
#include "nf/train/trainer.h"

namespace {

constexpr const char* kUsage =
    "usage: nf-train --config FILE [options] [--section.key value ...]\n"
    "  --config FILE     YAML config (may inherit a preset: tiny, small, base)\n"
    "  --resume auto|DIR resume from the run's latest checkpoint or a step directory\n"
    "  --dry-run         resolve and validate the config for this world size, write the\n"
    "                    resolved config to the run directory, print the memory and step-time\n"
    "                    plan (docs/memory.md), and exit\n"
    "    --dry-run.memory 80GB        check the plan against this per-rank limit (default:\n"
    "                                 training.memory_limit, else the device's memory)\n"
    "    --dry-run.layouts all        also rank every layout of this world size that fits\n"
    "    --dry-run.json FILE          also write the plan (and the layouts) as JSON to FILE\n"
    "    --dry-run.peak_tflops 989    a device's peak (default: training.peak_tflops, else 989)\n"
    "    --dry-run.efficiency 0.4     the fraction of that peak a step reaches\n"
    "    --dry-run.bandwidth 100      a rank's link in GB/s\n"
    "  --stages A B ...  run only these entries of the config's stages: list (each still starts\n"
    "                    from the previous entry's final checkpoint, the first from\n"
    "                    --training.load_from if given), e.g. --stages vqvae dynamics\n"
    "  --print-config    print the resolved config as YAML and exit\n"
    "  --config-doc      print the reference of every config key (docs/config.md) and exit\n"
    "  --section.key V   override one key, e.g. --model.d_model 256 --parallel.tp 2\n"
    "A config with a stages: list runs its stages in turn, skipping those already complete\n"
    "(docs/stages.md).\n";

struct Arguments {
  std::string config_file;
  std::vector<std::string> stages;  // --stages: the entries to run; empty = all
  bool dry_run = false;
  bool print_config = false;
  bool config_doc = false;
  bool help = false;
  std::vector<std::string> overrides;
  // The planner's options (--dry-run.*), for --dry-run only.
  std::string dry_run_flag;    // the first --dry-run.* flag given, for the error without --dry-run
  std::string dry_run_memory;  // --dry-run.memory: the limit the plan is checked against
  bool dry_run_layouts = false;
  std::string dry_run_json;     // --dry-run.json: where rank 0 writes the plan as JSON
  nf::train::PlanOptions plan;  // peak_tflops, efficiency, bandwidth_gbps (bf16_autocast: from the device)
};

// The value of `flag` when args[i] is `flag VALUE` (advancing i) or `flag=VALUE`; nullopt for another argument.
std::optional<std::string> flag_value(const std::vector<std::string>& args, size_t& i, const std::string& flag,
                                      const std::string& example) {
  if (args[i].rfind(flag + "=", 0) == 0) return args[i].substr(flag.size() + 1);
  if (args[i] != flag) return std::nullopt;
  if (i + 1 >= args.size()) throw nf::UsageError(flag + " needs a value", "e.g. " + example);
  return args[++i];
}

double positive_number(const std::string& text, const std::string& flag, const std::string& example) {
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  if (end == 0 || end != text.size() || !(value > 0)) {
    throw nf::UsageError(flag + " '" + text + "' is not a positive number", "e.g. " + example);
  }
  return value;
}

// --dry-run.*: returns false when args[i] is none of them.
bool parse_dry_run_flag(const std::vector<std::string>& args, size_t& i, Arguments& out) {
  const std::string flag = args[i].substr(0, args[i].find('='));
  if (auto memory = flag_value(args, i, "--dry-run.memory", "--dry-run.memory 80GB")) {
    nf::train::parse_memory_size(*memory, "--dry-run.memory");  // a bad size fails here, before any loading
    out.dry_run_memory = *memory;
  } else if (auto layouts = flag_value(args, i, "--dry-run.layouts", "--dry-run.layouts all")) {
    if (*layouts != "all") {
      throw nf::UsageError("--dry-run.layouts '" + *layouts + "' is not a choice", "--dry-run.layouts all");
    }
    out.dry_run_layouts = true;
  } else if (auto json = flag_value(args, i, "--dry-run.json", "--dry-run.json plan.json")) {
    if (json->empty()) throw nf::UsageError("--dry-run.json needs a file name", "--dry-run.json plan.json");
    out.dry_run_json = *json;
  } else if (auto peak = flag_value(args, i, "--dry-run.peak_tflops", "--dry-run.peak_tflops 989")) {
    out.plan.peak_tflops = positive_number(*peak, "--dry-run.peak_tflops", "--dry-run.peak_tflops 989");
  } else if (auto efficiency = flag_value(args, i, "--dry-run.efficiency", "--dry-run.efficiency 0.4")) {
    out.plan.efficiency = positive_number(*efficiency, "--dry-run.efficiency", "--dry-run.efficiency 0.4");
  } else if (auto bandwidth = flag_value(args, i, "--dry-run.bandwidth", "--dry-run.bandwidth 100")) {
    out.plan.bandwidth_gbps = positive_number(*bandwidth, "--dry-run.bandwidth", "--dry-run.bandwidth 100");
  } else {
    return false;
  }
  if (out.dry_run_flag.empty()) out.dry_run_flag = flag;
  return true;
}

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
    } else if (arg.rfind("--dry-run.", 0) == 0) {
      if (!parse_dry_run_flag(args, i, out)) {
        throw nf::UsageError("unknown option '" + arg + "'",
                             "the planner's options are --dry-run.memory, --dry-run.layouts, --dry-run.json, "
                             "--dry-run.peak_tflops, --dry-run.efficiency and --dry-run.bandwidth (nf-train --help)");
      }
    } else if (arg == "--stages") {
      while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) out.stages.push_back(args[++i]);
      if (out.stages.empty()) {
        throw nf::UsageError("--stages needs the names of stages", "nf-train --config c.yaml --stages vqvae dynamics");
      }
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
  if (!out.dry_run_flag.empty() && !out.dry_run) {
    throw nf::UsageError(out.dry_run_flag + " applies to --dry-run only",
                         "add --dry-run to see the plan; to cap a training run's memory, set --training.memory_limit");
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

// The memory one rank may use: --dry-run.memory, else training.memory_limit, else the device's (on
// the CPU, the node's shared by the ranks on it).
nf::train::MemoryLimit memory_limit(const nf::dist::JobContext& job, const Arguments& args,
                                    const nf::train::TrainConfig& config, const c10::Device& device) {
  if (!args.dry_run_memory.empty()) {
    return {nf::train::parse_memory_size(args.dry_run_memory, "--dry-run.memory"), "--dry-run.memory"};
  }
  const std::string source =
      device.is_cuda() ? "the GPU's memory" : "the node's memory / " + std::to_string(job.local_size) + " ranks";
  return nf::train::memory_limit_of(config, {nf::train::device_memory_bytes(device, job.local_size), source});
}

nf::train::PlanOptions plan_options(const Arguments& args, const nf::train::TrainConfig& config,
                                    const c10::Device& device) {
  nf::train::PlanOptions options = args.plan;
  options.bf16_autocast = nf::train::bf16_autocast_on(config, device);
  return options;
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
  log.info("model: ", config.model.neuralflow() ? "neuralflow, " : "", nf::model::count_parameters(config.model),
           " parameters, ", config.model.n_layers, " layers, d_model ", config.model.d_model, ", vocab ",
           config.model.vocab_size);  // before any allocation
  log.info("resolved config written to ", run_dir, "/config.yaml");
  if (args.dry_run) {
    NF_CHECK(!config.model.neuralflow(), nf::UsageError,
             "--dry-run plans the llama decoder's memory and time (docs/memory.md); the planner has no model of "
             "model.arch neuralflow yet: run a few steps instead and read the peak memory line");
    // Every rank plans (it is arithmetic); rank 0 prints. A plan that does not fit still exits 0:
    // the report says so and lists the changes that would fit.
    const c10::Device device = nf::dist::planned_device(job);
    const nf::train::DryRun planned =
        nf::train::dry_run(config, job.world_size, memory_limit(job, args, config, device),
                           plan_options(args, config, device), args.dry_run_layouts);
    if (job.rank != 0) return 0;
    std::cout << (stage.name.empty() ? "" : "Stage " + stage.name + ":\n") << nf::train::dry_run_report(planned)
              << std::flush;
    // Atomically: a driver polling for the file never reads half of it.
    if (!args.dry_run_json.empty()) nf::write_file_atomic(args.dry_run_json, nf::train::dry_run_json(planned));
    return 0;
  }
  if (job.rank == 0) {
    std::filesystem::create_directories(run_dir + "/logs");
    log.add_file(run_dir + "/logs/train.log");
  }
  const c10::Device device = nf::dist::rank_device(job);
  log.info("device ", device.str(),
           device.is_cuda() ? ": tp, dp and pp over NCCL, host-side agreement over MPI" : ": every axis over MPI");
  // Before anything is allocated: a layout the planner predicts above the memory limit stops here,
  // with the keys that would make it fit (docs/memory.md).
  if (!config.model.neuralflow()) {
    nf::train::check_fits(config, job.world_size, memory_limit(job, args, config, device),
                          plan_options(args, config, device));
  }
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

// The entries --stages names, in the config's order; all without --stages. UsageError for a name
// the config's stages: list does not have. Each starts from the previous entry's run, run now or
// before, unless the command line's training.load_from names the first one's start.
std::vector<nf::train::StagePlan> selected_stages(std::vector<nf::train::StagePlan> plan, const Arguments& args) {
  if (args.stages.empty()) return plan;
  std::string names;
  for (const nf::train::StagePlan& stage : plan) names += (names.empty() ? "" : ", ") + stage.name;
  for (const std::string& wanted : args.stages) {
    const bool known = std::any_of(plan.begin(), plan.end(), [&](const auto& stage) { return stage.name == wanted; });
    NF_CHECK(known && !plan.front().name.empty(), nf::UsageError, "--stages ", wanted, ": ", args.config_file,
             plan.front().name.empty() ? " has no stages: list" : " has no such stage (its stages: " + names + ")");
  }
  std::vector<nf::train::StagePlan> selected;
  for (nf::train::StagePlan& stage : plan) {
    if (std::find(args.stages.begin(), args.stages.end(), stage.name) != args.stages.end()) {
      selected.push_back(std::move(stage));
    }
  }
  // A training.load_from on the command line is the start of the first stage that runs.
  for (size_t i = 0; i < args.overrides.size(); ++i) {
    const std::string& arg = args.overrides[i];
    if (arg == "--training.load_from" && i + 1 < args.overrides.size()) {
      selected.front().config.training.load_from = args.overrides[i + 1];
    } else if (arg.rfind("--training.load_from=", 0) == 0) {
      selected.front().config.training.load_from = arg.substr(arg.find('=') + 1);
    }
  }
  return selected;
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
      selected_stages(nf::train::load_stage_plan(args.config_file, args.overrides, preset_dirs()), args);
  if (!args.dry_run_json.empty() && stages.size() > 1) {
    std::string names;
    for (const nf::train::StagePlan& stage : stages) names += (names.empty() ? "" : ", ") + stage.name;
    throw nf::UsageError("--dry-run.json writes one plan, and " + args.config_file + " has " +
                             std::to_string(stages.size()) + " stages (" + names + ")",
                         "drop --dry-run.json to print every stage's plan, or plan one stage from a config "
                         "without a stages: list");
  }
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
