// The `stages:` list: one TrainConfig per entry, chained by training.load_from. Free of LibTorch
// (the fuzz target tests/fuzz/fuzz_config.cpp compiles it); completed_stage.cpp looks at the
// checkpoints of a plan.
#include "nf/train/stages.h"

#include <cctype>
#include <filesystem>
#include <set>

#include "nf/core/error.h"

namespace nf::train {
namespace {

constexpr const char* kStagesKey = "stages";

bool valid_stage_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

struct StageEntry {
  std::string name;
  config::Layer layer;  // the entry without its name: applied over the file's layers
  bool sets_load_from = false;
};

// Takes `stages:` out of every layer (the schema knows no such key) and parses the one of the
// highest-precedence layer that has it.
std::vector<StageEntry> take_stage_entries(std::vector<config::Layer>& layers) {
  YAML::Node list;
  std::string file;
  for (config::Layer& layer : layers) {
    const YAML::Node& root = layer.root;  // const: looking a key up must not insert it
    if (!root[kStagesKey]) continue;
    list = root[kStagesKey];
    file = layer.file;
    layer.root.remove(kStagesKey);
  }
  std::vector<StageEntry> entries;
  if (file.empty()) return entries;
  const std::string hint = "write stages: as a list of mappings, each with a name and the sections it overrides";
  NF_CHECK(list.IsSequence() && list.size() > 0, ConfigError, config::where(file, list),
           ": stages must be a non-empty list; ", hint);
  std::set<std::string> names;
  for (const YAML::Node& item : list) {
    const std::string at = config::where(file, item);
    if (!item.IsMap() || !item["name"] || !item["name"].IsScalar()) {
      throw ConfigError(at + ": each entry of stages needs a name (name: sft)", hint);
    }
    StageEntry entry;
    entry.name = item["name"].as<std::string>();
    NF_CHECK(valid_stage_name(entry.name), ConfigError, at, ": stage name '", entry.name,
             "' must be letters, digits, '_', '-' or '.' (it names the stage's run directory)");
    NF_CHECK(names.insert(entry.name).second, ConfigError, at, ": stage name '", entry.name, "' appears twice");
    entry.layer.file = file + " [stage " + entry.name + "]";
    entry.layer.root = YAML::Node(YAML::NodeType::Map);
    for (const auto& key_value : item) {
      const std::string key = config::key_name(file, key_value.first);
      if (key != "name") entry.layer.root[key] = key_value.second;
    }
    const YAML::Node& root = entry.layer.root;
    const YAML::Node training = root["training"];
    entry.sets_load_from = root["training.load_from"] || (training && training.IsMap() && training["load_from"]);
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

std::vector<StagePlan> load_stage_plan(const std::string& file, const std::vector<std::string>& override_args,
                                       const std::vector<std::string>& preset_dirs) {
  std::vector<config::Layer> layers =
      file.empty() ? std::vector<config::Layer>{} : config::load_with_inheritance(file, preset_dirs);
  const std::vector<StageEntry> entries = take_stage_entries(layers);
  const auto overrides = config::parse_overrides(override_args);
  const config::Schema<TrainConfig> schema = train_schema();
  std::vector<StagePlan> plan;
  if (entries.empty()) {
    StagePlan single;
    schema.apply(single.config, layers, overrides);
    validate(single.config);
    single.run_dir = run_directory(single.config, file);
    plan.push_back(std::move(single));
    return plan;
  }
  for (const StageEntry& entry : entries) {
    std::vector<config::Layer> stage_layers = layers;
    stage_layers.push_back(entry.layer);
    StagePlan stage;
    stage.name = entry.name;
    schema.apply(stage.config, stage_layers, overrides);
    // Chaining: a later stage starts from the one before unless its entry says otherwise.
    if (!plan.empty() && !entry.sets_load_from) stage.config.training.load_from = plan.back().run_dir;
    try {
      validate(stage.config);
    } catch (const ConfigError& e) {
      throw ConfigError("stage " + entry.name + ": " + e.what(), e.hint());
    }
    stage.run_dir = (std::filesystem::path(run_directory(stage.config, file)) / entry.name).string();
    plan.push_back(std::move(stage));
  }
  return plan;
}

}  // namespace nf::train
