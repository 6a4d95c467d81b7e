// Reading config sources: YAML files with `inherit:` chains, and dotted command-line overrides.
// Each value keeps its origin (file:line or the command-line argument) so that every later
// error can say where the bad value came from.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace nf::config {

// Where a value came from: "configs/tiny.yaml:12" or "command line (--model.d_model)".
struct Origin {
  std::string where;
  bool from_command_line = false;
};

// One value layer: the top-level mapping of one YAML file (with `inherit` removed).
struct Layer {
  std::string file;  // path of the file, as given or resolved
  YAML::Node root;   // the file's mapping
};

// Loads `path` and everything it inherits, returned in order of increasing precedence:
// the deepest ancestor first, `path` itself last. `inherit:` takes a file (relative to the
// including file, or absolute) or a preset name looked up as NAME.yaml beside the including
// file and then in each of `preset_dirs`; it may be a single value or a list. Cycles, missing
// files and YAML syntax errors throw ConfigError naming the file and line.
std::vector<Layer> load_with_inheritance(const std::string& path, const std::vector<std::string>& preset_dirs);

// A command-line override `--a.b value` or `--a.b=value`.
struct Override {
  std::string path;   // dotted key, e.g. "model.d_model"
  std::string value;  // raw text; lists as "[1, 2]" or "1,2"
  Origin origin;
};

// Parses override arguments. Every element must be `--key value`, `--key=value`, or a bare
// `--key` followed by another option or the end (meaning "true"). Throws UsageError otherwise.
std::vector<Override> parse_overrides(const std::vector<std::string>& args);

// "file:line" of a YAML node (1-based), or just "file" when the node has no mark.
std::string where(const std::string& file, const YAML::Node& node);

// The text of a mapping's key; ConfigError naming file:line when the key is a list or a mapping
// (YAML's complex keys, `? [a, b]: value`), which no config key is.
std::string key_name(const std::string& file, const YAML::Node& key);

}  // namespace nf::config
