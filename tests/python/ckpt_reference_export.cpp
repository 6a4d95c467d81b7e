// Writes what tests/python/test_ckpt_export.py checks with its own safetensors reader:
//   dtypes.safetensors + dtypes.pt   every dtype through write_safetensors, and the same values
//                                    through torch::pickle_save (bf16/f16 widened to f32, exactly);
//   <case>/ (export_hf)  + <case>.pt tiny random Llama models exported as HF directories, with a
//                                    batch of tokens and nf's own logits for them.
// Usage: nf_ckpt_reference_export OUT_DIR
#include <torch/serialize.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <string>

#include "nf/ckpt/hf_export.h"
#include "nf/ckpt/safetensors.h"
#include "nf/model/transformer.h"

namespace {

using Dict = c10::Dict<std::string, at::Tensor>;

void write_pickle(const std::string& path, const Dict& tensors) {
  const std::vector<char> bytes = torch::pickle_save(tensors);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void export_dtypes(const std::string& dir) {
  at::Generator gen = at::detail::createCPUGenerator(11);
  const at::Tensor base = at::randn({4, 7}, gen) * 300;
  const nf::ckpt::NamedTensors tensors = {{"f64", base.to(at::kDouble) / 7},
                                          {"f32", base / 3},
                                          {"bf16", (base / 3).to(at::kBFloat16)},
                                          {"f16", (base / 30).to(at::kHalf)},
                                          {"i64", (base * 1e12).to(at::kLong)},
                                          {"i32", (base * 1e5).to(at::kInt)},
                                          {"i16", (base * 10).to(at::kShort)},
                                          {"i8", (base / 10).to(at::kChar)},
                                          {"u8", at::arange(256).to(at::kByte).reshape({2, 8, 16})},
                                          {"bool", base > 0},
                                          {"scalar", at::scalar_tensor(1.5)},
                                          {"empty", at::zeros({0, 5})},
                                          {"transposed", base.t()}};
  nf::ckpt::write_safetensors(dir + "/dtypes.safetensors", tensors, {{"format", "pt"}, {"origin", "nf"}});
  Dict values;
  for (const auto& [name, tensor] : tensors) {
    const bool narrow_float = tensor.scalar_type() == at::kBFloat16 || tensor.scalar_type() == at::kHalf;
    values.insert(name, narrow_float ? tensor.to(at::kFloat) : tensor.contiguous());
  }
  write_pickle(dir + "/dtypes.pt", values);
}

void export_model(const std::string& dir, const std::string& name, const nf::model::ModelConfig& config,
                  nf::ckpt::ExportDtype dtype) {
  nf::model::CausalLM model(config);
  nf::model::initialize(*model, nf::model::InitOptions().with_seed(21).with_std(0.1).with_n_layers(config.n_layers));
  nf::ckpt::StateDict state;
  for (const auto& [param_name, param] : nf::model::named_parameters(*model)) state[param_name] = param.detach();
  nf::ckpt::export_hf(dir + "/" + name, config, state,
                      nf::ckpt::HfExportOptions().with_dtype(dtype).with_bos_token_id(1).with_eos_token_id(2));
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor tokens = at::randint(config.vocab_size, {2, 11}, gen, at::kLong);
  torch::NoGradGuard no_grad;
  Dict values;
  values.insert("tokens", tokens);
  values.insert("logits", model->forward(tokens));
  write_pickle(dir + "/" + name + ".pt", values);
}

nf::model::ModelConfig config(int64_t vocab, int64_t d, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ffn,
                              bool tied) {
  nf::model::ModelConfig c;
  c.vocab_size = vocab;
  c.d_model = d;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.ffn_hidden = ffn;
  c.tie_embeddings = tied;
  c.max_seq_len = 32;
  c.norm_eps = 1e-6;
  c.rope_theta = 50000.0;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: nf_ckpt_reference_export OUT_DIR\n";
    return 2;
  }
  torch::set_num_threads(1);
  const std::string dir = argv[1];
  export_dtypes(dir);
  export_model(dir, "gqa_untied_fp32", config(61, 32, 2, 4, 2, 72, false), nf::ckpt::ExportDtype::kFloat32);
  export_model(dir, "mha_tied_fp32", config(53, 48, 2, 6, 0, 0, true), nf::ckpt::ExportDtype::kFloat32);
  export_model(dir, "gqa_untied_bf16", config(61, 32, 2, 4, 2, 72, false), nf::ckpt::ExportDtype::kBFloat16);
  std::cout << "wrote checkpoint reference cases to " << dir << "\n";
  return 0;
}
