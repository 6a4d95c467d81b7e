// A typed config schema. Every field is declared once, by binding a dotted key to a member of
// the program's config struct, with its one-line doc and its constraints; its default is the
// member's initial value. The schema then applies YAML layers and overrides (strictly: unknown
// keys, wrong types and out-of-range values throw ConfigError naming key, value, origin and
// what was expected), writes the resolved config, and renders docs/config.md.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nf/core/config/source.h"

namespace nf::config {

enum class FieldType { kInt, kFloat, kBool, kString, kIntList, kFloatList, kStringList };

// What a field is and what it accepts. Chainable setters add constraints at declaration.
struct FieldInfo {
  std::string path;
  FieldType type = FieldType::kString;
  std::string doc;
  std::optional<double> min;         // inclusive lower bound (numbers, and list elements)
  std::optional<double> max;         // inclusive upper bound
  std::vector<std::string> choices;  // allowed strings; empty means any
  std::vector<std::string> aliases;  // older names the key is still read under (files and overrides)

  FieldInfo& at_least(double value) {
    min = value;
    return *this;
  }
  FieldInfo& at_most(double value) {
    max = value;
    return *this;
  }
  FieldInfo& one_of(std::vector<std::string> values) {
    choices = std::move(values);
    return *this;
  }
  // An older name of the key, still read (a renamed key: configs written before keep working); the
  // resolved config and the docs use the new name, and the docs list the old one beside it.
  FieldInfo& also_named(std::string old_path) {
    aliases.push_back(std::move(old_path));
    return *this;
  }
};

// Parsing a YAML node into each supported C++ type, checking FieldInfo's constraints.
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, int64_t& out);
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, double& out);
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, bool& out);
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, std::string& out);
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, std::vector<int64_t>& out);
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, std::vector<double>& out);
void parse_into(const YAML::Node& node, const FieldInfo& info, const Origin& origin, std::vector<std::string>& out);

template <class T>
constexpr FieldType field_type_of();
template <>
constexpr FieldType field_type_of<int64_t>() {
  return FieldType::kInt;
}
template <>
constexpr FieldType field_type_of<double>() {
  return FieldType::kFloat;
}
template <>
constexpr FieldType field_type_of<bool>() {
  return FieldType::kBool;
}
template <>
constexpr FieldType field_type_of<std::string>() {
  return FieldType::kString;
}
template <>
constexpr FieldType field_type_of<std::vector<int64_t>>() {
  return FieldType::kIntList;
}
template <>
constexpr FieldType field_type_of<std::vector<double>>() {
  return FieldType::kFloatList;
}
template <>
constexpr FieldType field_type_of<std::vector<std::string>>() {
  return FieldType::kStringList;
}

// A field's value as a YAML node; numbers are written in their shortest faithful decimal form
// (1e-05, not 1.0000000000000001e-05).
template <class T>
YAML::Node to_node(const T& value) {
  return YAML::Node(value);
}
YAML::Node to_node(double value);
YAML::Node to_node(const std::vector<double>& values);

// Turns a command-line value into the YAML node a file would have held: lists accept
// "[1, 2]" or "1,2"; scalars stay plain text.
YAML::Node override_node(const FieldInfo& info, const std::string& value);

// Sets `path` ("a.b.c") in `map` as nested mappings: a: {b: {c: value}}.
void set_nested(YAML::Node map, const std::string& path, const YAML::Node& value);

// The closest known key to `key` by edit distance, or "" when nothing is close.
std::string closest_key(const std::string& key, const std::vector<std::string>& candidates);

// What a layer's keys that the schema does not know are: errors (a user's config), or skipped (a
// reader that wants a few sections of a larger file, such as the checkpoint code's of config.yaml).
enum class UnknownKeys { kError, kSkip };

// Type-erased schema storage, shared by every Schema<Root> instantiation.
class SchemaBase {
 public:
  const std::vector<FieldInfo>& fields() const { return infos_; }
  const FieldInfo* find(const std::string& path) const;
  bool is_section(const std::string& path) const;
  // Every key and section name, for did-you-mean suggestions.
  std::vector<std::string> known_paths() const;
  // The leaves of one layer in file order, each checked to be a known key (or a section).
  struct Leaf {
    const FieldInfo* info;
    YAML::Node node;
    Origin origin;
  };
  std::vector<Leaf> leaves(const Layer& layer, UnknownKeys unknown = UnknownKeys::kError) const;
  // The FieldInfo of an override, with a did-you-mean error for unknown keys.
  const FieldInfo& require_override(const Override& item) const;

 protected:
  std::vector<FieldInfo> infos_;
};

template <class Root>
class Schema : public SchemaBase {
 public:
  // Declares `path` as `root.*section.*member`. Returns its FieldInfo for constraints.
  template <class Section, class T>
  FieldInfo& field(Section Root::*section, T Section::*member, std::string path, std::string doc) {
    return add<T>(
        std::move(path), std::move(doc), [ section, member ](auto& root) -> auto& { return (root.*section).*member; });
  }

  // Declares `path` as `root.*section.*sub.*member`: a key of a section nested in a section
  // (model.lora.rank).
  template <class Section, class Sub, class T>
  FieldInfo& nested_field(Section Root::*section, Sub Section::*sub, T Sub::*member, std::string path,
                          std::string doc) {
    return add<T>(
        std::move(path), std::move(doc),
        [ section, sub, member ](auto& root) -> auto& { return ((root.*section).*sub).*member; });
  }

  // Declares `path` as an enum member `root.*section.*member` whose config value is one of the
  // names in `values`: parsed once, at load, and written back by name. Its choices are the names.
  template <class Section, class E>
  FieldInfo& enum_field(Section Root::*section, E Section::*member, std::string path, std::string doc,
                        std::vector<std::pair<std::string, E>> values) {
    FieldInfo info;
    info.path = std::move(path);
    info.type = FieldType::kString;
    info.doc = std::move(doc);
    for (const auto& [name, value] : values) info.choices.push_back(name);
    infos_.push_back(std::move(info));
    setters_.push_back([section, member, values](Root& root, const YAML::Node& node, const FieldInfo& field_info,
                                                 const Origin& origin) {
      std::string name;
      parse_into(node, field_info, origin, name);  // one of the choices, or a ConfigError
      for (const auto& [known, value] : values)
        if (known == name) (root.*section).*member = value;
    });
    getters_.push_back([section, member, values](const Root& root) {
      for (const auto& [name, value] : values)
        if (value == (root.*section).*member) return to_node(name);
      return YAML::Node();
    });
    return infos_.back();
  }

  // Applies the layers in order (later wins), then the overrides (which win over all files).
  void apply(Root& root, const std::vector<Layer>& layers, const std::vector<Override>& overrides,
             UnknownKeys unknown = UnknownKeys::kError) const {
    for (const auto& layer : layers) {
      for (const auto& leaf : leaves(layer, unknown)) set(root, *leaf.info, leaf.node, leaf.origin);
    }
    for (const auto& item : overrides) {
      const FieldInfo& info = require_override(item);
      set(root, info, override_node(info, item.value), item.origin);
    }
  }

  // The value of every field, as a YAML mapping of sections in declaration order.
  YAML::Node to_yaml(const Root& root) const {
    YAML::Node out(YAML::NodeType::Map);
    for (size_t i = 0; i < infos_.size(); ++i) {
      set_nested(out, infos_[i].path, getters_[i](root));
    }
    return out;
  }

  // Markdown reference of every field: key, type, default (from a default-constructed Root), doc.
  std::string markdown() const;

 private:
  void set(Root& root, const FieldInfo& info, const YAML::Node& node, const Origin& origin) const {
    setters_[static_cast<size_t>(&info - infos_.data())](root, node, info, origin);
  }

  // A field of type T reached by `access(root)` (a Root& or a const Root&).
  template <class T, class Access>
  FieldInfo& add(std::string path, std::string doc, Access access) {
    FieldInfo info;
    info.path = std::move(path);
    info.type = field_type_of<T>();
    info.doc = std::move(doc);
    infos_.push_back(std::move(info));
    setters_.push_back([access](Root& root, const YAML::Node& node, const FieldInfo& field_info, const Origin& origin) {
      parse_into(node, field_info, origin, access(root));
    });
    getters_.push_back([access](const Root& root) { return to_node(access(root)); });
    return infos_.back();
  }

  std::vector<std::function<void(Root&, const YAML::Node&, const FieldInfo&, const Origin&)>> setters_;
  std::vector<std::function<YAML::Node(const Root&)>> getters_;
};

// Renders one field's default for the docs.
std::string render_default(const YAML::Node& value);
// Renders the accepted values of a field for the docs ("int ≥ 1", "one of: a, b").
std::string render_accepts(const FieldInfo& info);

template <class Root>
std::string Schema<Root>::markdown() const {
  const Root defaults{};
  std::string out;
  std::string section;
  for (size_t i = 0; i < infos_.size(); ++i) {
    const FieldInfo& info = infos_[i];
    const std::string this_section = info.path.substr(0, info.path.find('.'));
    if (this_section != section) {
      section = this_section;
      out += "\n## `" + section + "`\n\n| key | accepts | default | meaning |\n|---|---|---|---|\n";
    }
    std::string names = "`" + info.path + "`";
    for (const std::string& alias : info.aliases) names += " (or `" + alias + "`)";
    out += "| " + names + " | " + render_accepts(info) + " | " + render_default(getters_[i](defaults)) + " | " +
           info.doc + " |\n";
  }
  return out;
}

}  // namespace nf::config
