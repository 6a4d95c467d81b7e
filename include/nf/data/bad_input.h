// The bad-input policy of `nf-shard build`: a record that cannot become a Document is counted per
// kind and skipped, with the first few file:line examples of each kind kept for the final report;
// with --strict the first one stops the build with a DataError instead. Reports are per thread or
// per rank and merge into one (also through JSON, to gather them over MPI).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace nf::data {

enum class BadInputKind {
  kMalformedJson,  // the line is not valid JSON
  kMissingField,   // a field the dataset format needs is absent (the message lists the expected fields)
  kWrongType,      // a field, or the record itself, has the wrong JSON type
  kInvalidUtf8,    // bytes that are not UTF-8
  kEmptyDocument,  // nothing but whitespace where the format needs text
  kTooLong,        // longer than the configured maximum document bytes
  kUnknownRole,    // a chat turn's role is not system/user/assistant (or an alias)
};
constexpr int kBadInputKindCount = 7;

// "malformed-json", "missing-field", ...: the names used in reports and in JSON.
const char* bad_input_kind_name(BadInputKind kind);

struct BadInputPolicy {
  bool strict = false;   // throw DataError at the first bad record instead of skipping it
  int max_examples = 5;  // file:line examples kept per kind
};

struct BadInputExample {
  std::string source;  // "path:line"
  std::string reason;  // what was wrong, and what was expected
};

class BadInputReport {
 public:
  explicit BadInputReport(BadInputPolicy policy = {});

  // Records one bad record at `source` ("path:line"). In strict mode throws DataError
  // "<source>: <kind>: <reason>" instead.
  void add(BadInputKind kind, const std::string& source, const std::string& reason);

  // Adds `other`'s counts and appends its examples after this report's, up to max_examples per
  // kind. Merging per-thread or per-rank reports in input order gives the serial run's report.
  void merge(const BadInputReport& other);

  int64_t count(BadInputKind kind) const { return counts_[static_cast<size_t>(kind)]; }
  int64_t total() const;
  const std::vector<BadInputExample>& examples(BadInputKind kind) const { return examples_[static_cast<size_t>(kind)]; }
  const BadInputPolicy& policy() const { return policy_; }

  // The end-of-build summary: "" when nothing was bad; otherwise a header line with the total,
  // then per kind its count and its examples, one per line.
  std::string summary() const;

  // {"malformed-json": {"count": 3, "examples": [{"source": "a.jsonl:7", "reason": "..."}]}, ...}
  // with only the kinds that occurred; from_json accepts what to_json writes.
  nlohmann::json to_json() const;
  static BadInputReport from_json(const nlohmann::json& json, BadInputPolicy policy = {});

 private:
  BadInputPolicy policy_;
  std::array<int64_t, kBadInputKindCount> counts_{};
  std::array<std::vector<BadInputExample>, kBadInputKindCount> examples_;
};

}  // namespace nf::data
