// nf's own forward of a checkpoint, for check_transformers_export.py: reads the step directory's
// config.yaml and its parameters gathered from every tp slice and pipeline stage (ModelReader, as
// nf-ckpt export-hf reads them), runs the unsharded model in fp32 on a seeded batch of random
// tokens, and writes {"tokens", "logits"} with torch::pickle_save (read by Python's torch.load). A
// LoRA checkpoint's adapters are loaded onto their base (ckpt::load_model_weights, as nf-generate).
// Usage: nf_checkpoint_logits STEP_DIR OUT.pt BATCH SEQ SEED
#include <torch/serialize.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <string>

#include "nf/ckpt/initial_weights.h"
#include "nf/ckpt/reshard.h"
#include "nf/core/error.h"
#include "nf/model/transformer.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: nf_checkpoint_logits STEP_DIR OUT.pt BATCH SEQ SEED\n";
    return 2;
  }
  try {
    torch::set_num_threads(1);
    const std::string step_dir = argv[1];
    const nf::model::ModelConfig config = nf::ckpt::read_model_layout(step_dir).model;
    nf::model::CausalLM model(config);
    nf::ckpt::ModelReader reader(step_dir);
    const auto saved = reader.read();
    torch::NoGradGuard no_grad;
    size_t loaded = 0;
    if (config.lora.enabled()) {
      nf::ckpt::load_model_weights(step_dir, model->config(), model->tp(), nf::model::named_parameters(*model));
      loaded = saved.size();
    }
    for (auto& [name, param] : config.lora.enabled() ? nf::ckpt::NamedTensors{} : nf::model::named_parameters(*model)) {
      const auto found = saved.find(name);
      NF_CHECK(found != saved.end(), nf::CheckpointError, "'", step_dir, "' has no parameter '", name, "'");
      NF_CHECK(found->second.sizes() == param.sizes(), nf::CheckpointError, "'", step_dir, "': ", name, " has shape ",
               found->second.sizes(), ", the model needs ", param.sizes());
      param.copy_(found->second);
      ++loaded;
    }
    NF_CHECK(loaded == saved.size(), nf::CheckpointError, "'", step_dir, "' holds ", saved.size(),
             " parameters, the model has ", loaded);
    at::Generator gen = at::detail::createCPUGenerator(std::stoll(argv[5]));
    const at::Tensor tokens =
        at::randint(config.vocab_size, {std::stoll(argv[3]), std::stoll(argv[4])}, gen, at::kLong);
    c10::Dict<std::string, at::Tensor> out;
    out.insert("tokens", tokens);
    out.insert("logits", model->forward(tokens));
    const std::vector<char> bytes = torch::pickle_save(out);
    std::ofstream file(argv[2], std::ios::binary);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    NF_CHECK(file.good(), nf::IoError, "cannot write '", argv[2], "'");
    std::cout << "logits of " << loaded << " parameters of " << step_dir << " on " << tokens.sizes() << " tokens\n";
  } catch (const std::exception& e) {
    std::cerr << "nf_checkpoint_logits: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
