// LoRA checkpoints (docs/lora.md): a LoRA run's checkpoints hold its adapters only and reference the
// base they adapt (the directory the run's training.load_from, else model.init_from, resolved to when
// it started, pinned in meta.json). From them: the base with the adapters merged (nf-ckpt export-hf --merge-lora, a
// plain Llama) and PEFT's adapter directory (nf-ckpt export-peft), which peft's PeftModel loads onto the exported base.
#pragma once

#include <string>

#include "nf/ckpt/hf_export.h"
#include "nf/model/model_config.h"

namespace nf::ckpt {

// The base a LoRA step directory's adapters were trained on: the directory its run resolved
// training.load_from or model.init_from to when it started, pinned in meta.json (lora_base), so that
// a base run trained further since (its `latest` moved) does not change it. CheckpointError when the
// checkpoint is no LoRA run's, the base is gone, or it is now another model than the adapters were
// trained on (naming both and the key).
std::string lora_base_of(const std::string& step_dir);

// W + (alpha / rank) · B A for every adapter pair of `adapters` (full tensors, nf names) into the
// base weights of `state`; CheckpointError naming a pair whose base weight is missing.
void merge_lora(StateDict& state, const StateDict& adapters, const model::LoraConfig& lora);

// PEFT's adapter directory `out_dir` (must not exist or be empty; written through a staging
// directory): adapter_model.safetensors (PEFT's names: "base_model.model." + nf's, fp32) and
// adapter_config.json (LORA, CAUSAL_LM, r, lora_alpha, target_modules, base_model_name_or_path).
void export_peft(const std::string& out_dir, const model::LoraConfig& lora, const StateDict& adapters,
                 const std::string& base_model);

}  // namespace nf::ckpt
