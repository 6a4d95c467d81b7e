// Bad-input accounting: per-kind counts and examples, strict mode, merging, summary and JSON.
#include "nf/data/bad_input.h"

#include <nlohmann/json.hpp>

#include "nf/core/error.h"

namespace nf::data {
namespace {

constexpr std::array<const char*, kBadInputKindCount> kKindNames = {
    "malformed-json", "missing-field", "wrong-type", "invalid-utf8", "empty-document", "too-long", "unknown-role"};

}  // namespace

const char* bad_input_kind_name(BadInputKind kind) { return kKindNames[static_cast<size_t>(kind)]; }

BadInputReport::BadInputReport(BadInputPolicy policy) : policy_(policy) {}

void BadInputReport::add(BadInputKind kind, const std::string& source, const std::string& reason) {
  if (policy_.strict) {
    throw DataError(source + ": " + bad_input_kind_name(kind) + ": " + reason,
                    "fix the record, or drop --strict to skip bad records and get a count at the end");
  }
  const auto index = static_cast<size_t>(kind);
  ++counts_[index];
  if (static_cast<int>(examples_[index].size()) < policy_.max_examples) examples_[index].push_back({source, reason});
}

void BadInputReport::merge(const BadInputReport& other) {
  for (size_t index = 0; index < counts_.size(); ++index) {
    counts_[index] += other.counts_[index];
    for (const BadInputExample& example : other.examples_[index]) {
      if (static_cast<int>(examples_[index].size()) >= policy_.max_examples) break;
      examples_[index].push_back(example);
    }
  }
}

int64_t BadInputReport::total() const {
  int64_t sum = 0;
  for (int64_t count : counts_) sum += count;
  return sum;
}

std::string BadInputReport::summary() const {
  if (total() == 0) return "";
  std::string text = "skipped " + std::to_string(total()) + " bad input record(s) (--strict stops at the first):";
  for (size_t index = 0; index < counts_.size(); ++index) {
    if (counts_[index] == 0) continue;
    text += "\n  " + std::string(kKindNames[index]) + ": " + std::to_string(counts_[index]);
    for (const BadInputExample& example : examples_[index]) text += "\n    " + example.source + ": " + example.reason;
    const int64_t unshown = counts_[index] - static_cast<int64_t>(examples_[index].size());
    if (unshown > 0) text += "\n    ... and " + std::to_string(unshown) + " more";
  }
  return text;
}

nlohmann::json BadInputReport::to_json() const {
  nlohmann::json json = nlohmann::json::object();
  for (size_t index = 0; index < counts_.size(); ++index) {
    if (counts_[index] == 0) continue;
    nlohmann::json examples = nlohmann::json::array();
    for (const BadInputExample& example : examples_[index]) {
      examples.push_back({{"source", example.source}, {"reason", example.reason}});
    }
    json[kKindNames[index]] = {{"count", counts_[index]}, {"examples", examples}};
  }
  return json;
}

BadInputReport BadInputReport::from_json(const nlohmann::json& json, BadInputPolicy policy) {
  BadInputReport report(policy);
  for (size_t index = 0; index < kKindNames.size(); ++index) {
    const auto entry = json.find(kKindNames[index]);
    if (entry == json.end()) continue;
    report.counts_[index] = entry->at("count").get<int64_t>();
    for (const nlohmann::json& example : entry->at("examples")) {
      if (static_cast<int>(report.examples_[index].size()) >= policy.max_examples) break;
      report.examples_[index].push_back(
          {example.at("source").get<std::string>(), example.at("reason").get<std::string>()});
    }
  }
  return report;
}

}  // namespace nf::data
