// The trainer's config: presets, precedence across a 3-level chain and the command line,
// cross-field and layout checks, the resolved config file, docs/config.md staying in sync, and the
// `stages:` list (precedence per stage, chaining by training.load_from, errors).
#include <gtest/gtest.h>

#include "../support/temp_dir.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/train/config.h"
#include "nf/train/stages.h"

namespace nf::train {
namespace {

using nf::testing::TempDir;
const std::vector<std::string> kPresets = {std::string(NF_SOURCE_DIR) + "/configs"};

std::string error_of(const std::string& file, const std::vector<std::string>& args) {
  try {
    load_train_config(file, args, kPresets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TrainConfig, PrecedenceIsCommandLineThenFileThenInheritedThenDefaults) {
  TempDir dir;
  dir.write("grand.yaml", "model: {d_model: 64, n_heads: 4, n_layers: 2}\ntraining: {seq_len: 16, seed: 1}\n");
  dir.write("parent.yaml", "inherit: grand\nmodel: {n_layers: 3}\ntraining: {seq_len: 32, seed: 2}\n");
  const std::string child = dir.write("child.yaml", "inherit: parent\ntraining: {seq_len: 48, seed: 3}\n");
  const TrainConfig c = load_train_config(child, {"--training.seed", "4"}, kPresets);
  EXPECT_EQ(c.model.vocab_size, model::ModelConfig{}.vocab_size);  // defaults only
  EXPECT_EQ(c.model.d_model, 64);                                  // grandparent only
  EXPECT_EQ(c.model.n_layers, 3);                                  // parent over grandparent
  EXPECT_EQ(c.training.seq_len, 48);                               // file over parents
  EXPECT_EQ(c.training.seed, 4);                                   // command line over everything
}

TEST(TrainConfig, PresetsHaveTheAdvertisedSizes) {
  const auto params = [](const std::string& preset) {
    return model::count_parameters(load_train_config(NF_SOURCE_DIR "/configs/" + preset + ".yaml", {}, kPresets).model);
  };
  EXPECT_GT(params("tiny"), 8'000'000);
  EXPECT_LT(params("tiny"), 12'000'000);
  EXPECT_GT(params("small"), 100'000'000);
  EXPECT_LT(params("small"), 140'000'000);
  EXPECT_GT(params("base"), 450'000'000);
  EXPECT_LT(params("base"), 550'000'000);
}

TEST(TrainConfig, EveryConfigInTheRepositoryLoads) {
  for (const auto& entry : std::filesystem::directory_iterator(NF_SOURCE_DIR "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(load_stage_plan(entry.path().string(), {}, kPresets)) << entry.path();
  }
  const auto chain = load_stage_plan(NF_SOURCE_DIR "/configs/chain_tiny.yaml", {}, kPresets);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[2].config.training.objective, "dpo");
  EXPECT_EQ(load_stage_plan(NF_SOURCE_DIR "/configs/sft_tiny.yaml", {}, kPresets).at(0).config.training.load_from,
            "pretrain_tiny");
}

TEST(TrainConfig, CrossFieldRulesNameBothKeys) {
  EXPECT_EQ(error_of("", {"--model.d_model", "100", "--model.n_heads", "8"}),
            "model.d_model (100) must be divisible by model.n_heads (8)");
  EXPECT_EQ(error_of("", {"--model.n_heads", "8", "--model.n_kv_heads", "3"}),
            "model.n_heads (8) must be divisible by model.n_kv_heads (3)");
  EXPECT_EQ(error_of("", {"--training.seq_len", "4096"}), "training.seq_len (4096) exceeds model.max_seq_len (1024)");
  EXPECT_EQ(error_of("", {"--training.max_steps", "10"}),
            "training.warmup_steps (100) exceeds training.max_steps (10)");
  EXPECT_EQ(error_of("", {"--parallel.tp", "4", "--parallel.sequence_parallel", "true", "--training.seq_len", "30"}),
            "training.seq_len (30) must be divisible by parallel.tp (4) with parallel.sequence_parallel");
  EXPECT_EQ(error_of("", {"--parallel.tp", "4", "--parallel.sequence_parallel", "true", "--training.seq_len", "32"}),
            "no error");
  // tp alone splits no sequence.
  EXPECT_EQ(error_of("", {"--parallel.tp", "4", "--training.seq_len", "30"}), "no error");
  EXPECT_EQ(error_of("", {"--checkpoint.consolidate", "true", "--checkpoint.async", "true"}),
            "checkpoint.consolidate true gathers every tensor over the ranks while saving, which a background writer "
            "cannot do: set checkpoint.async to false or auto (consolidated saves are synchronous)");
  EXPECT_EQ(error_of("", {"--checkpoint.consolidate", "true"}), "no error");
  EXPECT_EQ(error_of("", {"--training.document_mask", "true", "--training.stage", "dpo"}),
            "training.document_mask keeps packed documents apart, but dpo rows hold one pair each, unpacked: "
            "remove it from the dpo run");
  EXPECT_EQ(error_of("", {"--training.document_mask", "true", "--training.stage", "sft"}), "no error");
}

TEST(TrainConfig, NamedChoicesAreParsedOnceAtLoad) {
  const TrainConfig config =
      load_train_config("",
                        {"--parallel.pp_schedule", "gpipe", "--training.lr_schedule", "linear", "--training.dtype",
                         "fp32", "--checkpoint.async", "false", "--logging.level", "warn"},
                        kPresets);
  EXPECT_EQ(config.parallel.pp_schedule, dist::PipelineSchedule::kGPipe);
  EXPECT_EQ(config.training.lr_schedule, optim::LrDecay::kLinear);
  EXPECT_EQ(config.training.dtype, Precision::kFp32);
  EXPECT_EQ(config.checkpoint.async, AsyncSaves::kOff);
  EXPECT_EQ(config.logging.level, LogLevel::kWarn);
  // The resolved config writes the names back, and reads as the same config.
  const std::string yaml = to_yaml_text(config);
  for (const char* line : {"pp_schedule: gpipe", "lr_schedule: linear", "dtype: fp32", "level: warn"}) {
    EXPECT_NE(yaml.find(line), std::string::npos) << line << " not in\n" << yaml;
  }
  testing::TempDir dir;
  const TrainConfig reread = load_train_config(dir.write("config.yaml", yaml), {}, kPresets);
  EXPECT_EQ(reread.parallel.pp_schedule, dist::PipelineSchedule::kGPipe);
  EXPECT_EQ(reread.checkpoint.async, AsyncSaves::kOff);
  // An unknown name is refused at load, naming the key and the accepted names.
  const std::string error = error_of("", {"--parallel.pp_schedule", "zb-v"});
  EXPECT_NE(error.find("parallel.pp_schedule"), std::string::npos) << error;
  EXPECT_NE(error.find("1f1b, gpipe"), std::string::npos) << error;
  EXPECT_NE(error_of("", {"--training.objective", "grpo"}).find("pretrain, sft, dpo"), std::string::npos);
  // training.stage, the key's name before it was training.objective, is still read, and written back new.
  const TrainConfig renamed = load_train_config("", {"--training.stage", "sft"}, kPresets);
  EXPECT_EQ(renamed.training.objective, "sft");
  EXPECT_NE(to_yaml_text(renamed).find("objective: sft"), std::string::npos);
  EXPECT_EQ(to_yaml_text(renamed).find("stage:"), std::string::npos);
}

TEST(TrainConfig, LayoutChecksNeedTheWorldSize) {
  const auto layout_error = [](const std::vector<std::string>& args, int64_t world) {
    try {
      validate_layout(load_train_config("", args, kPresets), world);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(layout_error({"--parallel.tp", "2", "--parallel.pp", "2", "--parallel.dp", "3"}, 8),
            "parallel: tp(2) * pp(2) * dp(3) = 12 != world size 8");
  EXPECT_EQ(layout_error({"--training.global_batch_size", "20"}, 2),
            "training.global_batch_size (20) must be a multiple of training.micro_batch_size (4) * dp (2) = 8");
  EXPECT_EQ(layout_error({"--model.n_kv_heads", "2", "--parallel.tp", "4"}, 4),
            "model.n_heads (8) and model.n_kv_heads (2) must be divisible by parallel.tp (4)");
  EXPECT_EQ(layout_error({"--parallel.pp", "2", "--parallel.pp_layers", "3,4"}, 2),
            "parallel.pp_layers has 2 stages holding 7 layers; expected parallel.pp (2) stages holding "
            "model.n_layers (8) layers");
  EXPECT_EQ(layout_error({"--parallel.pp", "2", "--parallel.pp_layers", "[3, 5]"}, 2), "no error");
  EXPECT_EQ(validate_layout(load_train_config("", {"--parallel.tp", "2"}, kPresets), 8).dp(), 4);
}

TEST(TrainConfig, ResolvedConfigReloadsToTheSameConfig) {
  TempDir dir;
  const TrainConfig original =
      load_train_config(NF_SOURCE_DIR "/configs/pretrain_tiny.yaml", {"--training.learning_rate", "2e-4"}, kPresets);
  const std::string text = to_yaml_text(original);
  EXPECT_NE(text.find("learning_rate: 0.0002"), std::string::npos) << text;
  EXPECT_NE(text.find("norm_eps: 1e-05"), std::string::npos) << text;
  write_file_atomic((dir.path() / "config.yaml").string(), text);
  const TrainConfig reloaded = load_train_config((dir.path() / "config.yaml").string(), {}, kPresets);
  EXPECT_EQ(to_yaml_text(reloaded), text);
}

TEST(TrainConfig, RunDirectoryDefaultsToTheConfigName) {
  TrainConfig c;
  EXPECT_EQ(run_directory(c, "configs/sft_tiny.yaml"), "runs/sft_tiny");
  c.output.name = "exp1";
  c.output.dir = "/scratch/runs";
  EXPECT_EQ(run_directory(c, "configs/sft_tiny.yaml"), "/scratch/runs/exp1");
}

TEST(Stages, EachStageIsTheFileThenItsEntryThenTheCommandLineChainedByLoadFrom) {
  TempDir dir;
  const std::string file =
      dir.write("chain.yaml",
                "training: {max_steps: 50, warmup_steps: 5, learning_rate: 1.0e-3, load_from: base}\n"
                "output: {dir: out, name: task}\n"
                "stages:\n"
                "  - name: sft\n"
                "    training: {objective: sft, max_steps: 20}\n"
                "    data: {train_path: d/sft}\n"
                "  - name: dpo\n"
                "    training.stage: dpo\n"
                "    dpo: {beta: 0.25}\n"
                "  - name: dpo-2\n"
                "    training: {objective: dpo, load_from: elsewhere}\n");
  const std::vector<StagePlan> plan = load_stage_plan(file, {"--training.learning_rate", "5e-5"}, kPresets);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].name, "sft");
  EXPECT_EQ(plan[0].run_dir, "out/task/sft");
  EXPECT_EQ(plan[0].config.training.objective, "sft");
  EXPECT_EQ(plan[0].config.training.max_steps, 20);        // the entry over the file
  EXPECT_EQ(plan[0].config.training.learning_rate, 5e-5);  // the command line over everything
  EXPECT_EQ(plan[0].config.training.load_from, "base");    // the file's, for the first stage only
  EXPECT_EQ(plan[0].config.data.train_path, "d/sft");
  EXPECT_EQ(plan[1].config.training.max_steps, 50);  // the file's: entries do not leak
  EXPECT_EQ(plan[1].config.data.train_path, "");
  EXPECT_EQ(plan[1].config.dpo.beta, 0.25);
  EXPECT_EQ(plan[1].config.training.load_from, "out/task/sft");  // chained to the stage before
  EXPECT_EQ(plan[2].config.training.load_from, "elsewhere");     // unless the entry names one
  EXPECT_EQ(plan[2].config.dpo.beta, DpoConfig{}.beta);
  // Without stages: one unnamed stage, the run directory as before.
  const std::vector<StagePlan> single = load_stage_plan(NF_SOURCE_DIR "/configs/pretrain_tiny.yaml", {}, kPresets);
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].name, "");
  EXPECT_EQ(single[0].run_dir, "runs/pretrain_tiny");
}

TEST(Stages, MalformedListsNameTheFileLineAndStage) {
  TempDir dir;
  const auto error = [&dir](const std::string& text) {
    try {
      load_stage_plan(dir.write("bad.yaml", text), {}, kPresets);
    } catch (const ConfigError& e) {
      return std::string(e.what()).substr(e.what()[0] == '/' ? (dir.path() / "").string().size() : 0);
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("stages: []\n"),
            "bad.yaml:1: stages must be a non-empty list; write stages: as a list of mappings, "
            "each with a name and the sections it overrides");
  EXPECT_EQ(error("stages:\n  - training: {max_steps: 5}\n"),
            "bad.yaml:2: each entry of stages needs a name (name: sft)");
  EXPECT_EQ(error("stages:\n  - name: a/b\n"),
            "bad.yaml:2: stage name 'a/b' must be letters, digits, '_', '-' or '.' (it names the stage's run "
            "directory)");
  EXPECT_EQ(error("stages:\n  - name: a\n  - name: a\n"), "bad.yaml:3: stage name 'a' appears twice");
  EXPECT_EQ(error("stages:\n  - name: a\n    ? [training]\n    : {max_steps: 5}\n"),
            "bad.yaml:3: a key must be a name, got a list");
  EXPECT_EQ(error("stages:\n  - name: a\n    training: {max_stepz: 5}\n"),
            "bad.yaml [stage a]:3: unknown key 'training.max_stepz'; did you mean 'training.max_steps'?");
  EXPECT_EQ(error("stages:\n  - name: a\n    training: {max_steps: 5}\n"),
            "stage a: training.warmup_steps (100) exceeds training.max_steps (5)");
}

TEST(TrainConfig, DocsConfigMdMatchesTheSchema) {
  const std::string path = NF_SOURCE_DIR "/docs/config.md";
  EXPECT_EQ(read_file(path), config_reference_markdown())
      << path << " is out of date: regenerate it with `build/src/nf-train --config-doc > docs/config.md`";
}

}  // namespace
}  // namespace nf::train
