// The names of training.recompute's modes (recompute_mode.h).
#include "nf/model/recompute_mode.h"

namespace nf::model {

const std::vector<std::pair<std::string, RecomputeMode>>& recompute_mode_names() {
  static const std::vector<std::pair<std::string, RecomputeMode>> names = {
      {"none", RecomputeMode::kNone}, {"selective", RecomputeMode::kSelective}, {"full", RecomputeMode::kFull}};
  return names;
}

std::string name_of(RecomputeMode mode) {
  for (const auto& [name, value] : recompute_mode_names()) {
    if (value == mode) return name;
  }
  return "?";
}

}  // namespace nf::model
