// JSONL record parsing per dataset format: pretrain {"text"}, sft {"instruction", "input"?,
// "output"} or chat {"conversations": [...]}, dpo {"prompt", "chosen", "rejected"}, sequence
// {"paragraphs", "next"}; metadata "id", "emotion", "scene".
#include "nf/data/record_parser.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "nf/data/utf8.h"

namespace nf::data {
namespace {

using json = nlohmann::json;
using Problem = std::optional<RecordProblem>;

std::string quoted(const std::string& field) { return "\"" + field + "\""; }

bool is_blank(const std::string& text) { return text.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

Problem missing(DatasetFormat format, const std::string& what) {
  return RecordProblem{BadInputKind::kMissingField, "missing " + what + "; " + expected_record_shape(format)};
}

Problem wrong_type(const std::string& where, const json& value, const std::string& expected) {
  const std::string type = value.type_name();
  const std::string article = type[0] == 'a' || type[0] == 'o' ? "an " : "a ";
  return RecordProblem{BadInputKind::kWrongType, where + " is " + article + type + ", expected " + expected};
}

Problem empty(const std::string& where) {
  return RecordProblem{BadInputKind::kEmptyDocument, where + " has no text (empty or only whitespace)"};
}

// Copies record[field] into `out` when it is a string; a missing or null field is a missing field.
Problem required_string(const json& record, const char* field, DatasetFormat format, std::string& out) {
  const auto it = record.find(field);
  if (it == record.end() || it->is_null()) return missing(format, quoted(field));
  if (!it->is_string()) return wrong_type(quoted(field), *it, "a string");
  out = it->get<std::string>();
  return std::nullopt;
}

Problem read_metadata(const json& record, Document& document) {
  for (const char* key : {"id", "emotion", "scene"}) {
    const auto it = record.find(key);
    if (it == record.end() || it->is_null()) continue;
    if (it->is_string()) {
      document.metadata[key] = it->get<std::string>();
    } else if (it->is_number()) {
      document.metadata[key] = it->dump();
    } else {
      return wrong_type(quoted(key), *it, "a string or a number");
    }
  }
  return std::nullopt;
}

Problem parse_pretrain(const json& record, Document& document) {
  std::string text;
  if (auto problem = required_string(record, "text", DatasetFormat::kPretrain, text)) return problem;
  if (is_blank(text)) return empty(quoted("text"));
  document.segments.push_back({SegmentRole::kText, std::move(text)});
  return std::nullopt;
}

Problem parse_instruction(const json& record, Document& document) {
  std::string instruction, input, output;
  if (auto problem = required_string(record, "instruction", DatasetFormat::kSft, instruction)) return problem;
  if (auto problem = required_string(record, "output", DatasetFormat::kSft, output)) return problem;
  const auto it = record.find("input");
  if (it != record.end() && !it->is_null()) {
    if (!it->is_string()) return wrong_type(quoted("input"), *it, "a string");
    input = it->get<std::string>();
  }
  if (is_blank(instruction) && is_blank(input)) return empty("\"instruction\" (with \"input\")");
  if (is_blank(output)) return empty(quoted("output"));
  if (!input.empty()) instruction += "\n" + input;
  document.segments.push_back({SegmentRole::kUser, std::move(instruction)});
  document.segments.push_back({SegmentRole::kAssistant, std::move(output)});
  return std::nullopt;
}

std::optional<SegmentRole> chat_role(const std::string& role) {
  if (role == "system") return SegmentRole::kSystem;
  if (role == "user" || role == "human") return SegmentRole::kUser;
  if (role == "assistant" || role == "gpt") return SegmentRole::kAssistant;
  return std::nullopt;
}

// One turn: {"role", "content"} or ShareGPT's {"from", "value"}.
Problem parse_turn(const json& turn, const std::string& where, Segment& segment) {
  if (!turn.is_object()) return wrong_type(where, turn, "an object {\"role\", \"content\"}");
  const char* role_key = turn.contains("role") ? "role" : "from";
  const char* content_key = turn.contains("content") ? "content" : "value";
  if (!turn.contains(role_key)) return missing(DatasetFormat::kSft, "\"role\" (or \"from\") in " + where);
  if (!turn.contains(content_key)) return missing(DatasetFormat::kSft, "\"content\" (or \"value\") in " + where);
  const json& role = turn.at(role_key);
  const json& content = turn.at(content_key);
  if (!role.is_string()) return wrong_type(where + "." + role_key, role, "a string");
  if (!content.is_string()) return wrong_type(where + "." + content_key, content, "a string");
  const auto mapped = chat_role(role.get<std::string>());
  if (!mapped) {
    return RecordProblem{BadInputKind::kUnknownRole, where + "." + role_key + " is " + quoted(role.get<std::string>()) +
                                                         ", expected system, user or assistant (or human, gpt)"};
  }
  segment = {*mapped, content.get<std::string>()};
  return std::nullopt;
}

// The array of turns under `key`, each a segment of `document` (sft conversations, chat prompts).
Problem parse_turns(const json& turns, const std::string& key, Document& document) {
  if (!turns.is_array()) return wrong_type(quoted(key), turns, "an array of {\"role\", \"content\"} turns");
  for (size_t i = 0; i < turns.size(); ++i) {
    Segment segment;
    if (auto problem = parse_turn(turns[i], key + "[" + std::to_string(i) + "]", segment)) return problem;
    document.segments.push_back(std::move(segment));
  }
  return std::nullopt;
}

Problem parse_chat(const json& turns, const std::string& key, Document& document) {
  if (auto problem = parse_turns(turns, key, document)) return problem;
  const bool trainable = std::any_of(document.segments.begin(), document.segments.end(), [](const Segment& s) {
    return s.role == SegmentRole::kAssistant && !is_blank(s.text);
  });
  if (!trainable) {
    return RecordProblem{BadInputKind::kEmptyDocument,
                         quoted(key) + " has no assistant turn with text: nothing to train on"};
  }
  return std::nullopt;
}

Problem parse_sft(const json& record, Document& document) {
  for (const char* key : {"conversations", "messages"}) {
    if (record.contains(key)) return parse_chat(record.at(key), key, document);
  }
  if (!record.contains("instruction")) return missing(DatasetFormat::kSft, "\"instruction\" or \"conversations\"");
  return parse_instruction(record, document);
}

Problem parse_dpo(const json& record, Document& document) {
  std::string prompt, chosen, rejected;
  if (auto problem = required_string(record, "prompt", DatasetFormat::kDpo, prompt)) return problem;
  if (auto problem = required_string(record, "chosen", DatasetFormat::kDpo, chosen)) return problem;
  if (auto problem = required_string(record, "rejected", DatasetFormat::kDpo, rejected)) return problem;
  if (is_blank(prompt)) return empty(quoted("prompt"));
  if (is_blank(chosen)) return empty(quoted("chosen"));
  if (is_blank(rejected)) return empty(quoted("rejected"));
  document.segments = {{SegmentRole::kPrompt, std::move(prompt)},
                       {SegmentRole::kChosen, std::move(chosen)},
                       {SegmentRole::kRejected, std::move(rejected)}};
  return std::nullopt;
}

Problem parse_sequence(const json& record, Document& document) {
  const auto it = record.find("paragraphs");
  if (it == record.end() || it->is_null()) return missing(DatasetFormat::kSequence, "\"paragraphs\"");
  if (!it->is_array()) return wrong_type("\"paragraphs\"", *it, "an array of strings");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& paragraph = (*it)[i];
    const std::string where = "\"paragraphs\"[" + std::to_string(i) + "]";
    if (!paragraph.is_string()) return wrong_type(where, paragraph, "a string");
    if (is_blank(paragraph.get<std::string>())) return empty(where);
    document.segments.push_back({SegmentRole::kContext, paragraph.get<std::string>()});
  }
  std::string next;
  if (auto problem = required_string(record, "next", DatasetFormat::kSequence, next)) return problem;
  if (is_blank(next)) return empty(quoted("next"));
  document.segments.push_back({SegmentRole::kNext, std::move(next)});
  return std::nullopt;
}

Problem parse_fields(const json& record, DatasetFormat format, Document& document) {
  switch (format) {
    case DatasetFormat::kPretrain:
      return parse_pretrain(record, document);
    case DatasetFormat::kSft:
      return parse_sft(record, document);
    case DatasetFormat::kDpo:
      return parse_dpo(record, document);
    case DatasetFormat::kSequence:
      return parse_sequence(record, document);
  }
  return std::nullopt;
}

constexpr const char* kPromptShape =
    "prompt records are {\"prompt\": \"...\"} or {\"messages\": [{\"role\", \"content\"}, ...]}";

// A prompt: plain text, or a conversation to be answered (any roles; no assistant turn needed).
Problem parse_prompt_fields(const json& record, Document& document) {
  for (const char* key : {"messages", "conversations"}) {
    const auto turns = record.find(key);
    if (turns == record.end()) continue;
    if (auto problem = parse_turns(*turns, key, document)) return problem;
    return document.segments.empty() ? empty(quoted(key)) : std::nullopt;
  }
  const auto prompt = record.find("prompt");
  if (prompt == record.end() || prompt->is_null()) {
    return RecordProblem{BadInputKind::kMissingField,
                         std::string("missing \"prompt\" or \"messages\"; ") + kPromptShape};
  }
  if (!prompt->is_string()) return wrong_type(quoted("prompt"), *prompt, "a string");
  if (prompt->get<std::string>().empty()) return empty(quoted("prompt"));
  document.segments.push_back({SegmentRole::kText, prompt->get<std::string>()});
  return std::nullopt;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; users need only the rest.
std::string parse_error_text(const json::exception& error) {
  const std::string text = error.what();
  const size_t end = text.find("] ");
  return end == std::string::npos ? text : text.substr(end + 2);
}

// One JSON object per line: UTF-8, JSON syntax and object checked, then `fields` fills `document`
// (cleared first), then its metadata. `shape` is what the message says records look like.
Problem parse_object(std::string_view line, const std::string& shape, Document& document,
                     const std::function<Problem(const json&)>& fields) {
  if (auto problem = check_utf8(line)) return problem;
  json record;
  try {
    record = json::parse(line);
  } catch (const json::exception& error) {  // a parse_error, or out_of_range for a number like 1e400
    return RecordProblem{BadInputKind::kMalformedJson, parse_error_text(error)};
  }
  if (!record.is_object()) return wrong_type("the record", record, "an object; " + shape);
  document.segments.clear();
  document.metadata.clear();
  if (auto problem = fields(record)) return problem;
  return read_metadata(record, document);
}

}  // namespace

std::string expected_record_shape(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kPretrain:
      return "pretrain records are {\"text\", \"id\"?, \"emotion\"?, \"scene\"?}";
    case DatasetFormat::kSft:
      return "sft records are {\"instruction\", \"input\"?, \"output\"} or "
             "{\"conversations\": [{\"role\", \"content\"}, ...]}";
    case DatasetFormat::kDpo:
      return "dpo records are {\"prompt\", \"chosen\", \"rejected\"}";
    case DatasetFormat::kSequence:
      return "sequence records are {\"paragraphs\": [\"...\", ...], \"next\"}";
  }
  return "";
}

std::optional<RecordProblem> check_utf8(std::string_view text) {
  const size_t bad = find_invalid_utf8(text);
  if (bad == std::string_view::npos) return std::nullopt;
  char hex[8];
  std::snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned>(static_cast<unsigned char>(text[bad])));
  return RecordProblem{BadInputKind::kInvalidUtf8, "invalid UTF-8 at byte " + std::to_string(bad + 1) + " (" + hex +
                                                       "); convert the file to UTF-8, e.g. iconv -f GB18030 -t UTF-8"};
}

std::optional<RecordProblem> parse_prompt_record(std::string_view line, Document& document) {
  return parse_object(line, kPromptShape, document,
                      [&](const json& record) { return parse_prompt_fields(record, document); });
}

std::optional<RecordProblem> parse_record(std::string_view line, DatasetFormat format, int64_t max_document_bytes,
                                          Document& document) {
  const auto fields = [&](const json& record) { return parse_fields(record, format, document); };
  if (auto problem = parse_object(line, expected_record_shape(format), document, fields)) return problem;
  int64_t bytes = 0;
  for (const Segment& segment : document.segments) bytes += static_cast<int64_t>(segment.text.size());
  if (bytes > max_document_bytes) {
    return RecordProblem{BadInputKind::kTooLong, "the document has " + std::to_string(bytes) +
                                                     " bytes of text, more than the limit of " +
                                                     std::to_string(max_document_bytes) + " (--max-document-bytes)"};
  }
  return std::nullopt;
}

}  // namespace nf::data
