// Hugging Face export: the expected parameter list matches the model's own, the directory holds
// config.json, generation_config.json, model.safetensors in the chosen dtype and the tokenizer, and
// a state that does not fit the config, or an occupied directory, fails with the name.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "../../support/temp_dir.h"
#include "nf/ckpt/hf_export.h"
#include "nf/ckpt/safetensors.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/model/sharding.h"
#include "nf/model/transformer.h"

namespace nf::ckpt {
namespace {

namespace fs = std::filesystem;

model::ModelConfig tiny_config(bool tied, int64_t kv_heads) {
  model::ModelConfig config;
  config.vocab_size = 50;
  config.d_model = 32;
  config.n_layers = 2;
  config.n_heads = 4;
  config.n_kv_heads = kv_heads;
  config.ffn_hidden = 40;
  config.max_seq_len = 128;
  config.tie_embeddings = tied;
  config.norm_eps = 1e-6;
  config.rope_theta = 500000.0;
  return config;
}

StateDict random_state(const model::ModelConfig& config) {
  model::CausalLM model(config);
  model::initialize(*model, model::InitOptions().with_seed(3).with_std(0.5).with_n_layers(config.n_layers));
  StateDict state;
  for (const auto& [name, tensor] : model::named_parameters(*model)) state[name] = tensor.detach().clone();
  return state;
}

// `call` throws ErrorType whose message holds `part`.
template <class ErrorType, class Call>
void expect_error(Call call, const std::string& part) {
  try {
    call();
    FAIL() << "expected an error mentioning " << part;
  } catch (const ErrorType& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(HfExport, ExpectedParametersAreTheModelsOwnInOrder) {
  for (const auto& config : {tiny_config(true, 2), tiny_config(false, 1), tiny_config(false, 0)}) {
    model::CausalLM model(config);
    const auto expected = model::parameter_table(config);
    const auto actual = model::named_parameters(*model);
    ASSERT_EQ(expected.size(), actual.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      EXPECT_EQ(expected[i].name, actual[i].first);
      EXPECT_EQ(expected[i].full_shape, actual[i].second.sizes().vec()) << actual[i].first;
    }
  }
}

TEST(HfExport, WritesConfigWeightsAndTokenizer) {
  nf::testing::TempDir dir;
  const auto config = tiny_config(false, 2);
  const StateDict state = random_state(config);
  const std::string tokenizer = dir.write("tok/my_tokenizer.json", "{\"model\": {}}");
  const std::string out = (dir.path() / "hf").string();
  export_hf(out, config, state,
            HfExportOptions()
                .with_dtype(ExportDtype::kBFloat16)
                .with_bos_token_id(1)
                .with_eos_token_id(2)
                .with_tokenizer_path(tokenizer));

  const auto hf = nlohmann::json::parse(read_file(out + "/config.json"));
  EXPECT_EQ(hf["architectures"], nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(hf["model_type"], "llama");
  EXPECT_EQ(hf["hidden_size"], 32);
  EXPECT_EQ(hf["intermediate_size"], 40);
  EXPECT_EQ(hf["num_attention_heads"], 4);
  EXPECT_EQ(hf["num_key_value_heads"], 2);
  EXPECT_EQ(hf["num_hidden_layers"], 2);
  EXPECT_EQ(hf["vocab_size"], 50);
  EXPECT_EQ(hf["max_position_embeddings"], 128);
  EXPECT_EQ(hf["rms_norm_eps"], 1e-6);
  EXPECT_EQ(hf["rope_theta"], 500000.0);
  EXPECT_EQ(hf["tie_word_embeddings"], false);
  EXPECT_EQ(hf["torch_dtype"], "bfloat16");
  EXPECT_EQ(hf["bos_token_id"], 1);
  EXPECT_EQ(hf["eos_token_id"], 2);
  const auto generation = nlohmann::json::parse(read_file(out + "/generation_config.json"));
  EXPECT_EQ(generation["eos_token_id"], 2);
  EXPECT_EQ(read_file(out + "/tokenizer.json"), "{\"model\": {}}");

  SafetensorsFile weights(out + "/model.safetensors");
  EXPECT_EQ(weights.metadata().at("format"), "pt");
  const auto expected = model::parameter_table(config);
  ASSERT_EQ(weights.tensors().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::string& name = expected[i].name;
    EXPECT_EQ(weights.tensors()[i].name, name);  // HF order
    const torch::Tensor tensor = weights.read(name);
    EXPECT_EQ(tensor.scalar_type(), torch::kBFloat16) << name;
    EXPECT_TRUE(torch::equal(tensor, state.at(name).to(torch::kBFloat16))) << name;
  }
  for (const auto& entry : fs::directory_iterator(dir.path()))  // no staging directory left over
    EXPECT_EQ(entry.path().filename().string().find(".partial"), std::string::npos) << entry.path();
}

TEST(HfExport, Fp32IsExactAndTiedModelsHaveNoLmHead) {
  nf::testing::TempDir dir;
  const auto config = tiny_config(true, 0);
  const StateDict state = random_state(config);
  fs::create_directory(dir.path() / "empty");  // an empty directory may be the target
  const std::string out = (dir.path() / "empty").string();
  export_hf(out, config, state, HfExportOptions().with_dtype(parse_export_dtype("fp32")));
  SafetensorsFile weights(out + "/model.safetensors");
  EXPECT_FALSE(weights.contains("lm_head.weight"));
  for (const auto& [name, tensor] : weights.read_all()) EXPECT_TRUE(torch::equal(tensor, state.at(name))) << name;
  const auto hf = nlohmann::json::parse(read_file(out + "/config.json"));
  EXPECT_EQ(hf["tie_word_embeddings"], true);
  EXPECT_EQ(hf["num_key_value_heads"], 4);
  EXPECT_EQ(hf["torch_dtype"], "float32");
  EXPECT_FALSE(hf.contains("bos_token_id"));
  EXPECT_FALSE(fs::exists(out + "/tokenizer.json"));
}

TEST(HfExport, CopiesTokenizerFilesFromADirectory) {
  nf::testing::TempDir dir;
  const auto config = tiny_config(true, 0);
  dir.write("tok/tokenizer.model", "spm");
  dir.write("tok/tokenizer_config.json", "{}");
  dir.write("tok/unrelated.txt", "x");
  const std::string out = (dir.path() / "hf").string();
  export_hf(out, config, random_state(config),
            HfExportOptions().with_tokenizer_path((dir.path() / "tok").string()).with_dtype(ExportDtype::kFloat16));
  EXPECT_EQ(read_file(out + "/tokenizer.model"), "spm");
  EXPECT_EQ(read_file(out + "/tokenizer_config.json"), "{}");
  EXPECT_FALSE(fs::exists(out + "/unrelated.txt"));
  EXPECT_EQ(SafetensorsFile(out + "/model.safetensors").info("model.norm.weight").dtype, torch::kFloat16);
}

TEST(HfExport, StateThatDoesNotFitTheConfigNamesTheParameter) {
  const auto config = tiny_config(false, 2);
  StateDict missing = random_state(config);
  missing.erase("model.layers.1.mlp.up_proj.weight");
  expect_error<CheckpointError>([&] { check_state(missing, config); }, "'model.layers.1.mlp.up_proj.weight'");

  StateDict extra = random_state(tiny_config(false, 2));
  expect_error<CheckpointError>([&] { check_state(extra, tiny_config(true, 2)); },
                                "unexpected parameter 'lm_head.weight'");

  StateDict misshapen = random_state(config);
  misshapen["model.layers.0.self_attn.k_proj.weight"] = torch::zeros({32, 32});
  expect_error<CheckpointError>([&] { check_state(misshapen, config); }, "[32, 32], the model config needs [16, 32]");
  expect_error<UsageError>([] { parse_export_dtype("int8"); }, "'int8'");
}

TEST(HfExport, RefusesAnOccupiedDirectoryAndCleansUpAfterFailures) {
  nf::testing::TempDir dir;
  const auto config = tiny_config(true, 0);
  const StateDict state = random_state(config);
  dir.write("busy/keep.txt", "mine");
  expect_error<UsageError>([&] { export_hf((dir.path() / "busy").string(), config, state, {}); }, "not empty");
  EXPECT_EQ(read_file((dir.path() / "busy/keep.txt").string()), "mine");

  const std::string out = (dir.path() / "hf").string();
  expect_error<UsageError>(
      [&] { export_hf(out, config, state, HfExportOptions().with_tokenizer_path((dir.path() / "none").string())); },
      "does not exist");
  EXPECT_FALSE(fs::exists(out));
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);  // only busy/: no staging directory left behind
}

}  // namespace
}  // namespace nf::ckpt
