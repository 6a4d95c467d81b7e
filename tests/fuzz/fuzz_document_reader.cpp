// Fuzz target: one input file (plain or gzip) through DocumentReader, as plain-text paragraphs
// (input.txt) and as pretrain JSONL (input.jsonl), each read whole and again in the three shares
// split_inputs cuts it into (nf-shard build's ranks). Checks what multi-rank builds rely on: the
// shares read in order give exactly the documents and bad records of the whole file. Refusals are
// DataErrors (corrupt gzip, a JSON document that is not JSON Lines).
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fuzz_support.h"
#include "nf/data/document_reader.h"
#include "nf/data/input_files.h"
#include "nf/data/input_split.h"

namespace {

using namespace nf::data;

constexpr int kShares = 3;

struct Reading {
  std::vector<Document> documents;
  std::vector<int64_t> bad;  // per BadInputKind
};

void add(Reading& reading, const LineRange& range, const std::string& path, const ReaderOptions& options,
         BadInputReport& report) {
  DocumentReader reader(path, range, options, report);
  Document document;
  while (reader.next(document)) reading.documents.push_back(document);
}

Reading counted(Reading reading, const BadInputReport& report) {
  for (int kind = 0; kind < nf::data::kBadInputKindCount; ++kind)
    reading.bad.push_back(report.count(static_cast<BadInputKind>(kind)));
  return reading;
}

bool same(const Document& a, const Document& b) {
  if (a.source != b.source || a.metadata != b.metadata || a.segments.size() != b.segments.size()) return false;
  for (size_t i = 0; i < a.segments.size(); ++i) {
    if (a.segments[i].role != b.segments[i].role || a.segments[i].text != b.segments[i].text) return false;
  }
  return true;
}

void check_same(const Reading& whole, const Reading& shares, const std::string& path) {
  bool equal = whole.bad == shares.bad && whole.documents.size() == shares.documents.size();
  for (size_t i = 0; equal && i < whole.documents.size(); ++i) equal = same(whole.documents[i], shares.documents[i]);
  if (equal) return;
  std::fprintf(stderr, "nf fuzz: %s read in %d shares gives %zu documents, whole %zu (or they differ)\n", path.c_str(),
               kShares, shares.documents.size(), whole.documents.size());
  std::abort();
}

void read_both_ways(const std::string& path, const ReaderOptions& options) {
  Reading whole;
  bool whole_read = false;
  nf::fuzz::expect_refusals<nf::DataError>([&] {
    BadInputReport report;
    add(whole, LineRange{}, path, options, report);
    whole = counted(std::move(whole), report);
    report.summary();  // the end-of-build report, with its examples
    whole_read = true;
  });
  if (!whole_read) return;  // the shares after the first would not see what the whole file is refused for
  nf::fuzz::expect_refusals<>([&] {
    Reading shares;
    BadInputReport report;
    for (const auto& share : split_inputs(discover_inputs({path}), kShares, options)) {
      for (const InputSlice& slice : share) add(shares, slice.range, path, options, report);
    }
    check_same(whole, counted(std::move(shares), report), path);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nf::fuzz::ScratchFile paragraphs("input.txt"), jsonl("input.jsonl");
  const std::string_view text = nf::fuzz::as_text(data, size);
  ReaderOptions options;
  options.max_document_bytes = 64;  // small, so that inputs of a few hundred bytes reach the limits
  read_both_ways(paragraphs.write(text), options);
  read_both_ways(jsonl.write(text), options);
  return 0;
}
