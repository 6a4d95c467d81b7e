// YAML inheritance resolution and command-line override parsing.
#include "nf/core/config/source.h"

#include <filesystem>
#include <set>

#include "nf/core/error.h"

namespace nf::config {
namespace fs = std::filesystem;

std::string where(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return file;
  return file + ":" + std::to_string(mark.line + 1);
}

std::string key_name(const std::string& file, const YAML::Node& key) {
  if (key.IsSequence() || key.IsMap()) {
    throw ConfigError(where(file, key) + ": a key must be a name, got a " + (key.IsMap() ? "mapping" : "list"),
                      "write keys as plain names (key: value); in YAML, `? ` starts a complex key");
  }
  return key.as<std::string>();
}

namespace {

bool looks_like_path(const std::string& name) {
  return name.find('/') != std::string::npos || fs::path(name).extension() == ".yaml" ||
         fs::path(name).extension() == ".yml";
}

// Finds the file an `inherit:` value names; the error lists every place it looked.
std::string resolve_parent(const std::string& name, const std::string& including_file, const YAML::Node& node,
                           const std::vector<std::string>& preset_dirs) {
  const fs::path base = fs::path(including_file).parent_path();
  std::vector<fs::path> candidates;
  if (looks_like_path(name)) {
    candidates.push_back(fs::path(name).is_absolute() ? fs::path(name) : base / name);
  } else {
    candidates.push_back(base / (name + ".yaml"));
    for (const auto& dir : preset_dirs) candidates.push_back(fs::path(dir) / (name + ".yaml"));
  }
  std::string looked;
  for (const auto& candidate : candidates) {
    std::error_code error;  // a name the filesystem refuses (too long, say) is one that is not there
    if (fs::is_regular_file(candidate, error)) return candidate.lexically_normal().string();
    looked += (looked.empty() ? "" : ", ") + candidate.lexically_normal().string();
  }
  throw ConfigError(where(including_file, node) + ": inherit: cannot find '" + name + "' (looked in " + looked + ")",
                    "name a preset in configs/ (tiny, small, base) or a YAML file relative to " + including_file);
}

YAML::Node parse_file(const std::string& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::is_regular_file(status)) {
    const bool refused = status.type() == fs::file_type::none;  // a name the filesystem refuses (too long, say)
    throw ConfigError(
        "config file '" + path + "' " + (refused ? "cannot be read: " + error.message() : "does not exist"),
        "check the path given to --config");
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                          ": YAML syntax error: " + e.msg,
                      "fix the YAML syntax at that line");
  } catch (const YAML::BadFile&) {  // exists, but this user may not read it
    throw ConfigError("config file '" + path + "' cannot be opened for reading",
                      "check its permissions (ls -l), or copy it somewhere readable");
  }
  if (root.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    throw ConfigError(where(path, root) + ": the top level must be a mapping of sections (model:, training:, ...)");
  }
  return root;
}

void load_recursive(const std::string& path, const std::vector<std::string>& preset_dirs,
                    std::vector<std::string>& chain, std::set<std::string>& loaded, std::vector<Layer>& out) {
  std::error_code error;
  const fs::path resolved = fs::weakly_canonical(path, error);
  const std::string canonical = error ? fs::path(path).lexically_normal().string() : resolved.string();
  for (size_t i = 0; i < chain.size(); ++i) {
    if (chain[i] != canonical) continue;
    std::string cycle;
    for (size_t j = i; j < chain.size(); ++j) cycle += chain[j] + " -> ";
    throw ConfigError("inherit cycle: " + cycle + canonical, "remove one of the inherit: lines in that chain");
  }
  if (loaded.count(canonical)) return;  // a diamond: the shared ancestor applies once, at its first place
  YAML::Node root = parse_file(path);
  chain.push_back(canonical);
  if (YAML::Node parents = root["inherit"]) {
    if (!parents.IsScalar() && !parents.IsSequence()) {
      throw ConfigError(where(path, parents) + ": inherit: expected a file or preset name, or a list of them");
    }
    std::vector<YAML::Node> names;
    if (parents.IsScalar()) names.push_back(parents);
    for (const auto& item : parents.IsSequence() ? parents : YAML::Node()) names.push_back(item);
    for (const auto& name : names) {
      if (!name.IsScalar()) throw ConfigError(where(path, name) + ": inherit: each entry must be a name");
      load_recursive(resolve_parent(name.Scalar(), path, name, preset_dirs), preset_dirs, chain, loaded, out);
    }
    root.remove("inherit");
  }
  chain.pop_back();
  loaded.insert(canonical);
  out.push_back(Layer{path, root});
}

}  // namespace

std::vector<Layer> load_with_inheritance(const std::string& path, const std::vector<std::string>& preset_dirs) {
  std::vector<std::string> chain;
  std::set<std::string> loaded;
  std::vector<Layer> layers;
  load_recursive(path, preset_dirs, chain, loaded, layers);
  return layers;
}

std::vector<Override> parse_overrides(const std::vector<std::string>& args) {
  std::vector<Override> overrides;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      throw UsageError("unexpected argument '" + arg + "'",
                       "overrides take the form --section.key value or --section.key=value");
    }
    Override item;
    const size_t equals = arg.find('=');
    if (equals != std::string::npos) {
      item.path = arg.substr(2, equals - 2);
      item.value = arg.substr(equals + 1);
    } else {
      item.path = arg.substr(2);
      const bool has_value = i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0;
      item.value = has_value ? args[++i] : "true";
    }
    item.origin = Origin{"command line (--" + item.path + ")", true};
    overrides.push_back(std::move(item));
  }
  return overrides;
}

}  // namespace nf::config
