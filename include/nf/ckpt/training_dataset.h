// What a checkpoint's run trained on, as far as the tools need it: the tokenizer nf-ckpt export-hf
// copies and nf-generate encodes with, and the chat template of its sft/dpo data. Found through the
// checkpoint's config.yaml (data.train_path, a dataset written by nf-shard build, whose manifest
// names both); empty when the dataset is not where the run left it.
#pragma once

#include <string>

namespace nf::ckpt {

struct TrainingDataset {
  std::string tokenizer;      // the tokenizer file's path, or ""
  std::string chat_template;  // "nf", "llama3", "chatml", or "" (pretraining data, or not found)
};

TrainingDataset training_dataset_of(const std::string& step_dir);

}  // namespace nf::ckpt
