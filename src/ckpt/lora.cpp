// LoRA checkpoints: their base, merging, and PEFT's adapter format (lora.h).
#include "nf/ckpt/lora.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/hf_import.h"
#include "nf/ckpt/initial_weights.h"
#include "nf/ckpt/safetensors.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"

namespace nf::ckpt {
namespace {

constexpr const char* kPeftPrefix = "base_model.model.";

}  // namespace

std::string lora_base_of(const std::string& step_dir) {
  const model::ModelConfig adapted = read_model_layout(step_dir).model;
  NF_CHECK(adapted.lora.enabled(), CheckpointError, "'", step_dir,
           "' is not a LoRA checkpoint (its model.lora.rank is 0)");
  const std::string base = read_checkpoint_meta(step_dir).lora_base;
  NF_CHECK(!base.empty(), CheckpointError, "'", step_dir,
           "/meta.json' names no lora_base: it is not a whole checkpoint");
  NF_CHECK(std::filesystem::exists(base), CheckpointError, "the base of LoRA checkpoint '", step_dir, "', '", base,
           "' (meta.json's lora_base), does not exist here: restore it, or copy the run together with its base");
  try {  // the base must still be the model the adapters were trained on
    if (std::filesystem::exists(base + "/meta.json")) {
      check_same_model(read_model_layout(base).model, adapted, base + "/config.yaml");
    } else {
      check_hf_config(read_file(base + "/config.json"), adapted, base + "/config.json");
    }
  } catch (const CheckpointError& mismatch) {
    throw CheckpointError("the adapters of '" + step_dir + "' were trained on another model than their base '" + base +
                              "' now holds: " + mismatch.what(),
                          "restore the base the run trained on");
  }
  return base;
}

void merge_lora(StateDict& state, const StateDict& adapters, const model::LoraConfig& lora) {
  for (const auto& [name, a] : adapters) {
    const size_t at = name.find(".lora_A.weight");
    if (at == std::string::npos) continue;
    const std::string base = name.substr(0, at) + ".weight";
    const auto b = adapters.find(name.substr(0, at) + ".lora_B.weight");
    NF_CHECK(b != adapters.end(), CheckpointError, "adapter '", name, "' has no lora_B beside it");
    const auto weight = state.find(base);
    NF_CHECK(weight != state.end(), CheckpointError, "adapter '", name, "' adapts '", base,
             "', which the base model does not have");
    weight->second =
        weight->second.to(torch::kFloat) + lora.scale() * at::matmul(b->second.to(torch::kFloat), a.to(torch::kFloat));
  }
}

void export_peft(const std::string& out_dir, const model::LoraConfig& lora, const StateDict& adapters,
                 const std::string& base_model) {
  AtomicDirectory out(out_dir, "adapter directory");
  const std::filesystem::path stage(out.staging());
  NamedTensors tensors;
  for (const auto& [name, tensor] : adapters)
    tensors.emplace_back(kPeftPrefix + name, tensor.to(torch::kFloat).contiguous());
  write_safetensors((stage / "adapter_model.safetensors").string(), tensors, {{"format", "pt"}});
  const nlohmann::ordered_json config = {{"peft_type", "LORA"},
                                         {"task_type", "CAUSAL_LM"},
                                         {"base_model_name_or_path", base_model},
                                         {"r", lora.rank},
                                         {"lora_alpha", lora.alpha},
                                         {"lora_dropout", lora.dropout},
                                         {"target_modules", lora.target_modules},
                                         {"bias", "none"},
                                         {"fan_in_fan_out", false},
                                         {"inference_mode", true},
                                         {"init_lora_weights", true},
                                         {"use_rslora", false},
                                         {"use_dora", false},
                                         {"modules_to_save", nullptr}};
  write_file_atomic((stage / "adapter_config.json").string(), config.dump(2) + "\n");
  out.commit();
}

}  // namespace nf::ckpt
