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

int64_t checkpoint_meta_integer(const nlohmann::json& object, const char* key, const std::string& path) {
  const nlohmann::json& value = object.at(key);
  if (!value.is_number_integer()) {
    throw CheckpointError(
        "checkpoint metadata '" + path + "' is malformed: " + key + " is " + value.dump() + ", not an integer",
        "resume from another step directory");
  }
  return value.get<int64_t>();
}

CheckpointMeta checkpoint_meta_from_json(const std::string& text, const std::string& path) {
  CheckpointMeta m;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    NF_CHECK(checkpoint_meta_integer(j, "format_version", path) == kFormatVersion, CheckpointError, "'", path,
             "' has format_version ", j.at("format_version").dump(), ", this nf-train reads ", kFormatVersion);
    m.step = checkpoint_meta_integer(j, "step", path);
    const auto& layout = j.at("layout");
    m.tp = checkpoint_meta_integer(layout, "tp", path);
    m.pp = checkpoint_meta_integer(layout, "pp", path);
    m.dp = checkpoint_meta_integer(layout, "dp", path);
    m.zero = checkpoint_meta_integer(layout, "zero", path);
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
