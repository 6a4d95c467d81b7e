// training.recompute's modes and their config names, without LibTorch (the config schema reads
// them; recompute.h says what each mode keeps for backward and implements them).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace nf::model {

enum class RecomputeMode { kNone, kSelective, kFull };
// The config names (training.recompute), the one place they are spelled.
const std::vector<std::pair<std::string, RecomputeMode>>& recompute_mode_names();
std::string name_of(RecomputeMode mode);

}  // namespace nf::model
