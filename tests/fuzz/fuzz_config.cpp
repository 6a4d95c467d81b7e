// Fuzz target: a training config through what nf-train does with --config: load_stage_plan (YAML,
// `inherit:` chains into configs/, the `stages:` list, the schema's types and ranges, the cross-field
// checks), then validate_layout on 8 ranks. The input is config.yaml, optionally followed by a NUL
// and command-line overrides separated by NULs ("--training.seq_len\0" "64"). It loads, or is
// refused with a ConfigError or UsageError naming the key; a config that loads writes a resolved
// config.yaml (to_yaml_text) that loads back as the same config.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fuzz_support.h"
#include "nf/train/config.h"
#include "nf/train/stages.h"

namespace {

using namespace nf::train;

const std::vector<std::string> kPresetDirs = {NF_FUZZ_CONFIG_DIR};

std::vector<std::string> split_overrides(std::string_view text) {
  std::vector<std::string> args;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\0'), text.size());
    args.emplace_back(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return args;
}

// The resolved config, as written next to a run and into every checkpoint, reads back unchanged.
void check_resolved(const TrainConfig& config, const nf::fuzz::ScratchFile& resolved) {
  const std::string text = to_yaml_text(config);
  std::string again;
  nf::fuzz::expect_refusals<>(
      [&] { again = to_yaml_text(load_stage_plan(resolved.write(text), {}, {}).at(0).config); });
  if (again == text) return;
  std::fprintf(stderr, "nf fuzz: the resolved config reads back differently:\n%s\n--- read back as ---\n%s\n",
               text.c_str(), again.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nf::fuzz::ScratchFile file("config.yaml"), resolved("resolved.yaml");
  const std::string_view input = nf::fuzz::as_text(data, size);
  const size_t split = std::min(input.find('\0'), input.size());
  file.write(input.substr(0, split));
  const std::vector<std::string> overrides = split_overrides(input.substr(std::min(split + 1, input.size())));
  std::vector<StagePlan> plan;
  nf::fuzz::expect_refusals<nf::ConfigError, nf::UsageError>(
      [&] { plan = load_stage_plan(file.path(), overrides, kPresetDirs); });
  for (const StagePlan& stage : plan) {
    nf::fuzz::expect_refusals<nf::ConfigError>([&] { validate_layout(stage.config, 8); });
    check_resolved(stage.config, resolved);
  }
  return 0;
}
