// Document reader: JSONL records or plain-text paragraphs from one file, bad records to the
// BadInputReport, and a whole-file check for JSON that is not JSON Lines.
#include "nf/data/document_reader.h"

#include <optional>
#include <utility>

#include "nf/core/error.h"
#include "nf/data/record_parser.h"

namespace nf::data {
namespace {

bool is_blank(const std::string& text) { return text.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// JSON escapes can make a line up to 6 bytes per byte of text (\uXXXX for each CJK byte in
// Python's default ensure_ascii output), plus room for the keys and the metadata.
int64_t line_cap(InputLayout layout, int64_t max_document_bytes) {
  if (layout == InputLayout::kParagraphs) return max_document_bytes + 1;
  return 6 * max_document_bytes + (64 << 10);
}

}  // namespace

InputLayout resolve_layout(const std::string& path, const ReaderOptions& options) {
  InputLayout layout = options.layout;
  if (layout == InputLayout::kAuto) {
    const std::string name = ends_with(path, ".gz") ? path.substr(0, path.size() - 3) : path;
    const bool text_name = ends_with(name, ".txt") || ends_with(name, ".text");
    layout = options.format == DatasetFormat::kPretrain && text_name ? InputLayout::kParagraphs : InputLayout::kJsonl;
  }
  if (layout == InputLayout::kParagraphs && options.format != DatasetFormat::kPretrain) {
    throw UsageError(std::string("input '") + path + "': plain-text paragraphs are pretrain data, but the format is " +
                         format_name(options.format),
                     "give " + std::string(format_name(options.format)) + " data as JSONL; " +
                         expected_record_shape(options.format));
  }
  return layout;
}

DocumentReader::DocumentReader(const std::string& path, ReaderOptions options, BadInputReport& bad)
    : DocumentReader(path, LineRange{}, options, bad) {}

DocumentReader::DocumentReader(const std::string& path, const LineRange& range, ReaderOptions options,
                               BadInputReport& bad)
    : options_(options),
      layout_(resolve_layout(path, options)),
      bad_(bad),
      lines_(path, line_cap(layout_, options.max_document_bytes), range),
      first_record_(range.begin == 0) {}

bool DocumentReader::next(Document& document) {
  return layout_ == InputLayout::kParagraphs ? next_paragraph(document) : next_record(document);
}

// A file that is one JSON document (an array, or a pretty-printed object) would otherwise give a
// bad record per line; say once what it is and how to convert it.
void DocumentReader::reject_json_document(const std::string& line) {
  const size_t start = line.find_first_not_of(" \t");
  const bool array = line[start] == '[';
  const bool pretty = line.find_first_not_of(" \t", start + 1) == std::string::npos && line[start] == '{';
  if (!array && !pretty) return;
  throw DataError(
      source(lines_.line_number()) + ": this file is " + (array ? "a JSON array" : "pretty-printed JSON") +
          ", but nf-shard reads JSON Lines (one object per line)",
      "convert it with: jq -c '" + std::string(array ? ".[]" : ".") + "' " + lines_.path() + " > file.jsonl");
}

bool DocumentReader::next_record(Document& document) {
  while (lines_.next(line_)) {
    if (is_blank(line_)) continue;
    if (first_record_) {
      first_record_ = false;
      reject_json_document(line_);
    }
    document.source = source(lines_.line_number());
    if (lines_.truncated()) {
      bad_.add(BadInputKind::kTooLong, document.source,
               "the line is longer than " + std::to_string(line_cap(layout_, options_.max_document_bytes)) +
                   " bytes (--max-document-bytes " + std::to_string(options_.max_document_bytes) + " plus JSON)");
      continue;
    }
    if (auto problem = parse_record(line_, options_.format, options_.max_document_bytes, document)) {
      bad_.add(problem->kind, document.source, problem->reason);
      continue;
    }
    return true;
  }
  return false;
}

// Reads lines up to the next blank line or the end. A paragraph with invalid UTF-8 is reported at
// the line of its first bad byte; one over the limit at its first line.
bool DocumentReader::next_paragraph(Document& document) {
  for (;;) {
    std::string text;
    int64_t first_line = 0;
    bool too_long = false;
    std::optional<std::pair<int64_t, RecordProblem>> invalid;
    while (lines_.next(line_)) {
      if (is_blank(line_)) {
        if (first_line > 0) break;
        continue;
      }
      if (first_line == 0) first_line = lines_.line_number();
      if (!invalid) {
        if (auto problem = check_utf8(line_)) invalid.emplace(lines_.line_number(), *problem);
      }
      const size_t grown = text.size() + (text.empty() ? 0 : 1) + line_.size();
      too_long = too_long || lines_.truncated() || static_cast<int64_t>(grown) > options_.max_document_bytes;
      if (too_long) continue;
      if (!text.empty()) text += '\n';
      text += line_;
    }
    if (first_line == 0) return false;
    if (invalid) {
      bad_.add(invalid->second.kind, source(invalid->first), invalid->second.reason);
    } else if (too_long) {
      bad_.add(BadInputKind::kTooLong, source(first_line),
               "the paragraph is longer than the limit of " + std::to_string(options_.max_document_bytes) +
                   " bytes (--max-document-bytes)");
    } else {
      document.segments = {{SegmentRole::kText, std::move(text)}};
      document.metadata.clear();
      document.source = source(first_line);
      return true;
    }
  }
}

}  // namespace nf::data
