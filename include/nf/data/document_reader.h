// Reads one input file (plain or gzip) into Documents of the dataset format the caller chose:
// JSONL records, or for pretrain also plain text with blank-line-separated paragraphs. Streams
// line by line; bad records go to a BadInputReport (counted and skipped, or thrown in strict mode).
#pragma once

#include <cstdint>
#include <string>

#include "nf/data/bad_input.h"
#include "nf/data/document.h"
#include "nf/data/line_reader.h"

namespace nf::data {

enum class InputLayout {
  kAuto,        // pretrain: *.txt and *.text (also .gz) are paragraphs, the rest JSONL; other formats: JSONL
  kJsonl,       // one JSON object per line; blank lines are skipped
  kParagraphs,  // pretrain only: paragraphs separated by blank lines, one Document each
};

struct ReaderOptions {
  DatasetFormat format = DatasetFormat::kPretrain;
  InputLayout layout = InputLayout::kAuto;
  int64_t max_document_bytes = 8 << 20;  // longer documents are bad input of kind too-long
};

// The layout kAuto resolves to for `path`; throws UsageError for paragraphs with a format other
// than pretrain.
InputLayout resolve_layout(const std::string& path, const ReaderOptions& options);

class DocumentReader {
 public:
  // Reads the whole file at `path`. `bad` receives the bad records; it must outlive the reader.
  DocumentReader(const std::string& path, ReaderOptions options, BadInputReport& bad);
  // Reads the lines of `path` in `range` (a share of a plain file, from split_inputs).
  DocumentReader(const std::string& path, const LineRange& range, ReaderOptions options, BadInputReport& bad);

  // Fills `document` with the next good document (source = "path:line" of its record, or of
  // its paragraph's first line). Returns false at the end of the file.
  bool next(Document& document);

  // Bytes of the file (or range) on disk consumed so far, for progress.
  int64_t disk_bytes() const { return lines_.disk_bytes(); }

 private:
  bool next_record(Document& document);
  bool next_paragraph(Document& document);
  std::string source(int64_t line) const { return lines_.path() + ":" + std::to_string(line); }
  void reject_json_document(const std::string& line);

  ReaderOptions options_;
  InputLayout layout_;
  BadInputReport& bad_;
  LineReader lines_;
  std::string line_;
  bool first_record_ = true;
};

}  // namespace nf::data
