// One JSONL record to one Document, per dataset format (docs/data-inputs.md lists the accepted
// shapes). A record that does not fit the format comes back as a RecordProblem naming the bad
// input kind and the fields that were expected; the reader decides to skip or to stop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nf/data/bad_input.h"
#include "nf/data/document.h"
#include "nf/data/shard_format.h"

namespace nf::data {

struct RecordProblem {
  BadInputKind kind;
  std::string reason;
};

// The record shape(s) a format accepts, for messages: e.g. {"prompt", "chosen", "rejected"}.
std::string expected_record_shape(DatasetFormat format);

// Parses `line` (one JSON object) into `document`'s segments and metadata ("id", "emotion",
// "scene" when present, as strings). Checks, in order: UTF-8, JSON syntax, the format's fields
// and types, non-empty text, and that the document's text is at most `max_document_bytes`.
// Leaves `document.source` alone.
std::optional<RecordProblem> parse_record(std::string_view line, DatasetFormat format, int64_t max_document_bytes,
                                          Document& document);

// A prompt for generation (prompts.h): {"prompt": text} becomes one kText segment; {"messages": turns}
// (or "conversations"; {"role", "content"} or {"from", "value"} turns, as sft) one segment per turn,
// with no assistant turn needed. Metadata as parse_record.
std::optional<RecordProblem> parse_prompt_record(std::string_view line, Document& document);

// The checks shared with plain-text paragraphs: invalid UTF-8 in `text`, reported at its byte.
std::optional<RecordProblem> check_utf8(std::string_view text);

}  // namespace nf::data
