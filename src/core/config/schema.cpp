// Strict parsing of config values, key lookup with did-you-mean, and doc rendering.
#include "nf/core/config/schema.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "nf/core/error.h"

namespace nf::config {
namespace {

const char* type_name(FieldType type) {
  switch (type) {
    case FieldType::kInt:
      return "an integer";
    case FieldType::kFloat:
      return "a number";
    case FieldType::kBool:
      return "true or false";
    case FieldType::kString:
      return "a string";
    case FieldType::kIntList:
      return "a list of integers";
    case FieldType::kFloatList:
      return "a list of numbers";
    case FieldType::kStringList:
      return "a list of strings";
  }
  return "a value";
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

[[noreturn]] void fail_type(const YAML::Node& node, const FieldInfo& info, const Origin& origin, const char* expected) {
  throw ConfigError(origin.where + ": " + info.path + ": expected " + expected + ", got " + describe(node),
                    "docs/config.md lists what every key accepts");
}

void check_range(double value, const std::string& text, const FieldInfo& info, const Origin& origin) {
  if ((info.min && value < *info.min) || (info.max && value > *info.max)) {
    std::ostringstream bounds;
    if (info.min && info.max)
      bounds << "between " << *info.min << " and " << *info.max;
    else if (info.min)
      bounds << ">= " << *info.min;
    else
      bounds << "<= " << *info.max;
    throw ConfigError(origin.where + ": " + info.path + " = " + text + " is out of range: expected " + bounds.str(),
                      "docs/config.md lists what every key accepts");
  }
}

int64_t to_int(const YAML::Node& node, const FieldInfo& info, const Origin& origin) {
  if (!node.IsScalar()) fail_type(node, info, origin, "an integer");
  const std::string& text = node.Scalar();
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used, 10);
  } catch (const std::exception&) {
    fail_type(node, info, origin, "an integer");
  }
  if (used != text.size()) fail_type(node, info, origin, "an integer");
  check_range(static_cast<double>(value), text, info, origin);
  return value;
}

double to_float(const YAML::Node& node, const FieldInfo& info, const Origin& origin) {
  if (!node.IsScalar()) fail_type(node, info, origin, "a number");
  const std::string& text = node.Scalar();
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    fail_type(node, info, origin, "a number");
  }
  if (used != text.size() || !std::isfinite(value)) fail_type(node, info, origin, "a finite number");
  check_range(value, text, info, origin);
  return value;
}

std::string to_string(const YAML::Node& node, const FieldInfo& info, const Origin& origin) {
  if (!node.IsScalar()) fail_type(node, info, origin, "a string");
  const std::string& text = node.Scalar();
  if (!info.choices.empty() && std::find(info.choices.begin(), info.choices.end(), text) == info.choices.end()) {
    std::string allowed;
    for (const auto& choice : info.choices) allowed += (allowed.empty() ? "" : ", ") + choice;
    std::string message =
        origin.where + ": " + info.path + " = '" + text + "' is not allowed: expected one of " + allowed;
    const std::string suggestion = closest_key(text, info.choices);
    if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
    throw ConfigError(message);
  }
  return text;
}

template <class T, class Convert>
std::vector<T> to_list(const YAML::Node& node, const FieldInfo& info, const Origin& origin, Convert convert) {
  if (!node.IsSequence()) fail_type(node, info, origin, type_name(info.type));
  std::vector<T> out;
  for (const auto& item : node) out.push_back(convert(item, info, origin));
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, int64_t& out) {
  out = to_int(node, info, origin);
}
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, double& out) {
  out = to_float(node, info, origin);
}
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, bool& out) {
  if (!node.IsScalar()) fail_type(node, info, origin, "true or false");
  const std::string& text = node.Scalar();
  if (text == "true" || text == "True" || text == "yes" || text == "on")
    out = true;
  else if (text == "false" || text == "False" || text == "no" || text == "off")
    out = false;
  else
    fail_type(node, info, origin, "true or false");
}
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, std::string& out) {
  out = to_string(node, info, origin);
}
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, std::vector<int64_t>& out) {
  out = to_list<int64_t>(node, info, origin, to_int);
}
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, std::vector<double>& out) {
  out = to_list<double>(node, info, origin, to_float);
}
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, std::vector<std::string>& out) {
  out = to_list<std::string>(node, info, origin, to_string);
}

YAML::Node to_node(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.15g", value);
  if (std::stod(text) != value) std::snprintf(text, sizeof(text), "%.17g", value);
  return YAML::Node(std::string(text));
}

YAML::Node to_node(const std::vector<double>& values) {
  YAML::Node list(YAML::NodeType::Sequence);
  for (double value : values) list.push_back(to_node(value));
  return list;
}

YAML::Node override_node(const FieldInfo& info, const std::string& value) {
  const bool is_list =
      info.type == FieldType::kIntList || info.type == FieldType::kFloatList || info.type == FieldType::kStringList;
  if (!is_list) return YAML::Node(value);
  if (!value.empty() && value.front() == '[') {
    try {
      return YAML::Load(value);
    } catch (const YAML::Exception& e) {
      throw ConfigError("command line (--" + info.path + "): cannot parse list '" + value + "': " + e.msg,
                        "write lists as [a, b] or a,b");
    }
  }
  YAML::Node list(YAML::NodeType::Sequence);
  std::stringstream items(value);
  for (std::string item; std::getline(items, item, ',');) list.push_back(item);
  return list;
}

std::string closest_key(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    const size_t distance = edit_distance(key, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

const FieldInfo* SchemaBase::find(const std::string& path) const {
  for (const auto& info : infos_) {
    if (info.path == path || std::find(info.aliases.begin(), info.aliases.end(), path) != info.aliases.end()) {
      return &info;
    }
  }
  return nullptr;
}

bool SchemaBase::is_section(const std::string& path) const {
  const std::string prefix = path + ".";
  return std::any_of(infos_.begin(), infos_.end(),
                     [&](const FieldInfo& info) { return info.path.rfind(prefix, 0) == 0; });
}

std::vector<std::string> SchemaBase::known_paths() const {
  std::vector<std::string> paths;
  for (const auto& info : infos_) {
    paths.push_back(info.path);
    const std::string section = info.path.substr(0, info.path.find('.'));
    if (std::find(paths.begin(), paths.end(), section) == paths.end()) paths.push_back(section);
  }
  return paths;
}

namespace {
std::string unknown_key_message(const std::string& where, const std::string& shown, const std::string& path,
                                const std::string& prefix, const std::vector<std::string>& known) {
  std::string message = where + ": unknown key '" + shown + "'";
  const std::string suggestion = closest_key(path, known);
  if (!suggestion.empty()) message += "; did you mean '" + prefix + suggestion + "'?";
  return message;
}
}  // namespace

std::vector<SchemaBase::Leaf> SchemaBase::leaves(const Layer& layer, UnknownKeys unknown) const {
  std::vector<Leaf> out;
  const std::vector<std::string> known = known_paths();
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& map,
                                                                        const std::string& prefix) {
    for (const auto& entry : map) {
      const std::string path = prefix + key_name(layer.file, entry.first);
      const Origin origin{where(layer.file, entry.first)};
      if (const FieldInfo* info = find(path)) {
        out.push_back(Leaf{info, entry.second, origin});
      } else if (is_section(path)) {
        if (entry.second.IsNull()) continue;  // an empty section
        if (!entry.second.IsMap()) {
          throw ConfigError(origin.where + ": " + path + " is a section: expected a mapping of keys, got " +
                            describe(entry.second));
        }
        walk(entry.second, path + ".");
      } else if (unknown == UnknownKeys::kError) {
        throw ConfigError(unknown_key_message(origin.where, path, path, "", known), "docs/config.md lists every key");
      }
    }
  };
  walk(layer.root, "");
  return out;
}

const FieldInfo& SchemaBase::require_override(const Override& item) const {
  if (const FieldInfo* info = find(item.path)) return *info;
  throw ConfigError(unknown_key_message("command line", "--" + item.path, item.path, "--", known_paths()),
                    "docs/config.md lists every key");
}

void set_nested(YAML::Node map, const std::string& path, const YAML::Node& value) {
  const size_t dot = path.find('.');
  if (dot == std::string::npos) {
    map[path] = value;
    return;
  }
  set_nested(map[path.substr(0, dot)], path.substr(dot + 1), value);
}

std::string render_default(const YAML::Node& value) {
  YAML::Emitter out;
  out << YAML::Flow << value;
  const std::string text = out.c_str();
  return text.empty() || text == "~" || text == "\"\"" ? "(empty)" : "`" + text + "`";
}

std::string render_accepts(const FieldInfo& info) {
  std::string text = type_name(info.type);
  if (!info.choices.empty()) {
    text = "one of";
    for (size_t i = 0; i < info.choices.size(); ++i) text += (i ? ", `" : " `") + info.choices[i] + "`";
  }
  std::ostringstream bounds;
  if (info.min) bounds << " ≥ " << *info.min;
  if (info.min && info.max) bounds << ",";
  if (info.max) bounds << " ≤ " << *info.max;
  return text + bounds.str();
}

}  // namespace nf::config
