// meta.json <-> CheckpointMeta (checkpoint_meta.h), without LibTorch.
#include "nf/ckpt/checkpoint_meta.h"

#include "nf/core/error.h"

namespace nf::ckpt {
namespace {

constexpr int kFormatVersion = 1;

// meta.json's keys of this layer; every other key is the trainer's (CheckpointMeta::trainer_state).
constexpr const char* kOwnKeys[] = {"format_version", "step", "layout", "files", "tensors", "lora_base"};

}  // namespace

nlohmann::json checkpoint_meta_to_json(const CheckpointMeta& m) {
  nlohmann::json json = m.trainer_state;
  for (const char* key : kOwnKeys) {
    NF_CHECK(!json.contains(key), UsageError, "the trainer's checkpoint state may not hold the key '", key,
             "' of meta.json");
  }
  json["format_version"] = kFormatVersion;
  json["step"] = m.step;
  json["layout"] = {{"tp", m.tp}, {"pp", m.pp}, {"dp", m.dp}, {"zero", m.zero}};
  json["files"] = m.files;
  if (!m.lora_base.empty()) json["lora_base"] = m.lora_base;
  return json;
}

CheckpointMeta checkpoint_meta_from_json(const std::string& text, const std::string& path) {
  CheckpointMeta m;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    NF_CHECK(j.at("format_version").get<int>() == kFormatVersion, CheckpointError, "'", path, "' has format_version ",
             j.at("format_version").dump(), ", this nf-train reads ", kFormatVersion);
    m.step = j.at("step").get<int64_t>();
    const auto& layout = j.at("layout");
    m.tp = layout.at("tp").get<int64_t>();
    m.pp = layout.at("pp").get<int64_t>();
    m.dp = layout.at("dp").get<int64_t>();
    m.zero = layout.at("zero").get<int64_t>();
    m.files = j.at("files").get<std::map<std::string, std::string>>();
    m.lora_base = j.value("lora_base", std::string());
    m.trainer_state = j;
    for (const char* key : kOwnKeys) m.trainer_state.erase(key);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError("checkpoint metadata '" + path + "' is malformed: " + e.what(),
                          "resume from another step directory");
  }
  return m;
}

}  // namespace nf::ckpt
