// What the ckpt layer reads of a step directory without the trainer: the model and parallel
// sections of config.yaml (every other key skipped), meta.json with the trainer's state kept opaque,
// the consolidated config.yaml; and filesystem failures as IoErrors naming the path.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "../../support/temp_dir.h"
#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/consolidated.h"
#include "nf/core/error.h"
#include "nf/core/filesystem.h"

namespace nf::ckpt {
namespace {

// A config.yaml as nf-train writes it: the trainer's sections around the two this layer reads.
constexpr const char* kConfig = R"(# resolved by NeuralFlow
model:
  vocab_size: 260
  d_model: 64
  n_layers: 4
  n_heads: 4
  n_kv_heads: 2
  tie_embeddings: true
  init_from: ""
training:
  objective: sft
  seq_len: 32
parallel:
  tp: 2
  pp: 2
  dp: 2
  zero: 1
  pp_layers: [1, 3]
  bucket_mb: 0.05
output:
  name: run
)";

TEST(CheckpointFiles, ModelLayoutReadsOnlyItsSections) {
  testing::TempDir dir;
  dir.write("step_4/config.yaml", kConfig);
  const ModelLayout layout = read_model_layout((dir.path() / "step_4").string());
  EXPECT_EQ(layout.model.vocab_size, 260);
  EXPECT_EQ(layout.model.d_model, 64);
  EXPECT_EQ(layout.model.kv_heads(), 2);
  EXPECT_TRUE(layout.model.tie_embeddings);
  EXPECT_EQ(layout.parallel.tp, 2);
  EXPECT_EQ(layout.parallel.zero, 1);
  EXPECT_EQ(layout.parallel.pp_layers, (std::vector<int64_t>{1, 3}));
  EXPECT_DOUBLE_EQ(layout.parallel.bucket_mb, 0.05);
}

TEST(CheckpointFiles, ModelLayoutErrorsNameTheFile) {
  testing::TempDir dir;
  const std::string step = (dir.path() / "step_4").string();
  std::filesystem::create_directories(step);
  try {
    read_model_layout(step);
    FAIL() << "a missing config.yaml was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(step + "/config.yaml' is missing"), std::string::npos) << e.what();
  }
  dir.write("step_4/config.yaml", "model:\n  d_model: -3\n");
  try {
    read_model_layout(step);
    FAIL() << "a negative model.d_model was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("config.yaml' is invalid"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.d_model"), std::string::npos) << e.what();
  }
}

TEST(CheckpointFiles, ConsolidatedConfigChangesOnlyTheLayout) {
  const YAML::Node before = YAML::Load(kConfig);
  const std::string text = consolidated_config(kConfig, "config.yaml");
  const YAML::Node after = YAML::Load(text);
  EXPECT_EQ(after["parallel"]["tp"].as<int>(), 1);
  EXPECT_EQ(after["parallel"]["pp"].as<int>(), 1);
  EXPECT_EQ(after["parallel"]["dp"].as<int>(), 0);
  EXPECT_EQ(after["parallel"]["zero"].as<int>(), 0);
  EXPECT_EQ(after["parallel"]["pp_layers"].size(), 0u);
  EXPECT_EQ(after["parallel"]["bucket_mb"].as<std::string>(), "0.05");
  for (const char* section : {"model", "training", "output"}) {
    EXPECT_EQ(YAML::Dump(after[section]), YAML::Dump(before[section])) << section;
  }
  EXPECT_THROW(consolidated_config("model: [unclosed", "x/config.yaml"), CheckpointError);
}

TEST(CheckpointFiles, MetaKeepsTheTrainerStateOpaque) {
  testing::TempDir dir;
  const nlohmann::json trainer = {{"loader", {{"consumed_samples", 96}}}, {"tokens_seen", 3072}, {"anything", "kept"}};
  nlohmann::json meta = trainer;
  meta["format_version"] = 1;
  meta["step"] = 4;
  meta["layout"] = {{"tp", 2}, {"pp", 1}, {"dp", 2}, {"zero", 1}};
  meta["files"] = {{"model-tp0-pp0.safetensors", "ab12"}};
  meta["tensors"] = {{"model-tp0-pp0.safetensors", nlohmann::json::array()}};
  dir.write("step_4/meta.json", meta.dump());
  const CheckpointMeta read = read_checkpoint_meta((dir.path() / "step_4").string());
  EXPECT_EQ(read.step, 4);
  EXPECT_EQ(read.tp, 2);
  EXPECT_EQ(read.dp, 2);
  EXPECT_EQ(read.zero, 1);
  EXPECT_EQ(read.files.at("model-tp0-pp0.safetensors"), "ab12");
  EXPECT_EQ(read.trainer_state, trainer);  // exactly the keys that are not the ckpt layer's

  meta["format_version"] = 2;
  dir.write("step_4/meta.json", meta.dump());
  EXPECT_THROW(read_checkpoint_meta((dir.path() / "step_4").string()), CheckpointError);
  // Counts are integers: a float step would be converted out of range (found by fuzz_checkpoint_meta),
  // and a large format_version no longer truncates to 1.
  meta["format_version"] = 1;
  meta["step"] = 1e300;
  dir.write("step_4/meta.json", meta.dump());
  EXPECT_THROW(read_checkpoint_meta((dir.path() / "step_4").string()), CheckpointError);
  meta["step"] = 4;
  meta["format_version"] = 4294967297;
  dir.write("step_4/meta.json", meta.dump());
  EXPECT_THROW(read_checkpoint_meta((dir.path() / "step_4").string()), CheckpointError);
}

TEST(CheckpointFiles, FilesystemFailuresAreIoErrorsNamingThePath) {
  testing::TempDir dir;
  const std::string missing = (dir.path() / "step_3.partial").string();
  try {
    rename_path(missing, (dir.path() / "step_3").string());
    FAIL() << "renaming a missing directory succeeded";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step_3'"), std::string::npos) << e.what();
  }
  const std::string file = dir.write("latest", "step_3\n");
  EXPECT_THROW(create_directories(file + "/step_4"), IoError);
}

}  // namespace
}  // namespace nf::ckpt
