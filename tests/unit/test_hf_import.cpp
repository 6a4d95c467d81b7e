// Hugging Face import in one process: config.json against the job's model (every key named in
// the error), and a rank's shards read out of an exported directory, a padded vocabulary included.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "../support/temp_dir.h"
#include "nf/ckpt/hf_export.h"
#include "nf/ckpt/hf_import.h"
#include "nf/core/error.h"
#include "nf/model/sharding.h"

namespace nf::ckpt {
namespace {

model::ModelConfig tiny_model() {
  model::ModelConfig config;
  config.vocab_size = 10;
  config.d_model = 16;
  config.n_layers = 2;
  config.n_heads = 4;
  config.n_kv_heads = 2;
  config.ffn_hidden = 32;
  return config;
}

std::string config_json(const model::ModelConfig& config) {
  return hf_config_json(config, HfExportOptions().with_dtype(ExportDtype::kFloat32)).dump();
}

// The CheckpointError message of check_hf_config for `json` against `job`, or "" when it passes.
std::string refusal(const nlohmann::json& json, const model::ModelConfig& job) {
  try {
    check_hf_config(json.dump(), job, "hf/config.json");
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

TEST(HfImport, ConfigOfTheSameModelPasses) {
  const model::ModelConfig job = tiny_model();
  EXPECT_EQ(check_hf_config(config_json(job), job, "hf/config.json"), 10);
  model::ModelConfig padded = job;
  padded.vocab_size = 16;  // a vocabulary padded for the job holds the model's
  EXPECT_EQ(check_hf_config(config_json(job), padded, "hf/config.json"), 10);
  nlohmann::json defaults = nlohmann::json::parse(config_json(job));
  defaults.erase("num_key_value_heads");  // LlamaConfig's default: num_attention_heads
  model::ModelConfig mha = job;
  mha.n_kv_heads = 0;
  EXPECT_EQ(refusal(defaults, mha), "");
}

TEST(HfImport, EveryMismatchNamesBothKeys) {
  const model::ModelConfig job = tiny_model();
  const nlohmann::json json = nlohmann::json::parse(config_json(job));
  const std::vector<std::tuple<std::string, nlohmann::json, std::string>> cases = {
      {"hidden_size", 32, "model.d_model = 16"},
      {"num_hidden_layers", 3, "model.n_layers = 2"},
      {"num_attention_heads", 8, "model.n_heads = 4"},
      {"num_key_value_heads", 4, "model.n_kv_heads = 2"},
      {"intermediate_size", 64, "model.ffn_hidden = 32"},
      {"rope_theta", 500000.0, "model.rope_theta = 10000"},
      {"rms_norm_eps", 1e-6, "model.norm_eps = 1e-05"},
      {"tie_word_embeddings", true, "model.tie_embeddings = false"},
      {"vocab_size", 11, "model.vocab_size = 10"},
      {"model_type", "mistral", "\"llama\""},
      {"head_dim", 8, "d_model / n_heads = 4"},
      {"rope_scaling", {{"type", "linear"}}, "plain RoPE"},
      {"mlp_bias", true, "false"},
  };
  for (const auto& [key, value, expected] : cases) {
    nlohmann::json changed = json;
    changed[key] = value;
    const std::string message = refusal(changed, job);
    EXPECT_NE(message.find("'hf/config.json' has " + key + " = "), std::string::npos) << key << ": " << message;
    EXPECT_NE(message.find(expected), std::string::npos) << key << ": " << message;
  }
  nlohmann::json missing = json;
  missing.erase("hidden_size");
  EXPECT_NE(refusal(missing, job).find("has no hidden_size"), std::string::npos);
  EXPECT_NE(refusal(nlohmann::json::array(), job).find("not a JSON object"), std::string::npos);
}

TEST(HfImport, ReadsARanksShardsOfAPaddedVocabulary) {
  const testing::TempDir dir;
  const model::ModelConfig hf = tiny_model();
  StateDict state;
  for (const auto& [name, shape] : model::parameter_table(hf)) state[name] = torch::randn(shape);
  const std::string path = (dir.path() / "hf").string();
  export_hf(path, hf, state, HfExportOptions().with_dtype(ExportDtype::kFloat32));

  model::ModelConfig job = hf;
  job.vocab_size = 13;  // tp 2 pads it to 14: rank 1 holds rows 7..13, of which 7..9 are the model's
  std::vector<ParameterShard> targets;
  for (const std::string name : {"model.embed_tokens.weight", "model.layers.1.self_attn.o_proj.weight"}) {
    ParameterShard target{name, model::full_shape_of(job, name), model::shard_spec_of(job, name, nullptr)};
    target.spec.index = 1;
    target.spec.count = 2;
    target.spec.padded_full_size = parallel::tp::padded_size(target.spec.full_size, 2);
    targets.push_back(target);
  }
  const NamedTensors shards = read_initial_parameters(path, job, targets);
  ASSERT_EQ(shards.size(), 2u);
  const at::Tensor embedding = shards[0].second;
  ASSERT_EQ(embedding.sizes(), (c10::IntArrayRef{7, 16}));
  EXPECT_TRUE(embedding.narrow(0, 0, 3).equal(state["model.embed_tokens.weight"].narrow(0, 7, 3)));
  EXPECT_TRUE(embedding.narrow(0, 3, 4).eq(0).all().item<bool>());
  EXPECT_TRUE(shards[1].second.equal(state["model.layers.1.self_attn.o_proj.weight"].narrow(1, 8, 8)));

  job.n_kv_heads = 4;
  try {
    read_initial_parameters(path, job, targets);
    FAIL() << "a mismatched config.json was read";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("num_key_value_heads = 2 but this job has model.n_kv_heads = 4"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(read_initial_parameters(dir.path().string(), hf, targets), CheckpointError);  // no config.json
}

}  // namespace
}  // namespace nf::ckpt
