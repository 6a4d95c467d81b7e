// A checkpoint's training dataset, through its config.yaml (training_dataset.h).
#include "nf/ckpt/training_dataset.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "nf/data/manifest.h"

namespace nf::ckpt {

TrainingDataset training_dataset_of(const std::string& step_dir) {
  const YAML::Node train_path = YAML::LoadFile(step_dir + "/config.yaml")["data"]["train_path"];
  const std::string dataset = train_path && train_path.IsScalar() ? train_path.Scalar() : "";
  if (dataset.empty() || !std::filesystem::exists(dataset + "/manifest.json")) return {};
  const data::Manifest manifest = data::read_manifest(dataset);
  const std::string tokenizer = dataset + "/" + manifest.tokenizer.file;
  return {std::filesystem::exists(tokenizer) ? tokenizer : "", manifest.chat_template};
}

}  // namespace nf::ckpt
