// Fuzz target: one JSONL line through the record parser of every dataset format (pretrain, sft,
// dpo, sequence: parse_record) and of generation prompts (parse_prompt_record). A record is either
// a Document or a RecordProblem with a reason; no exception may escape, and a Document holds
// segments within the byte limit.
#include <cstdio>
#include <cstdlib>

#include "fuzz_support.h"
#include "nf/data/record_parser.h"

namespace {

using namespace nf::data;

// Small, so that the too-long check is reached by inputs of a few hundred bytes.
constexpr int64_t kMaxDocumentBytes = 256;

void check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "nf fuzz: %s\n", what);
  std::abort();
}

void check_result(const std::optional<RecordProblem>& problem, const Document& document, int64_t limit) {
  if (problem) {
    check(!problem->reason.empty(), "a RecordProblem without a reason");
    return;
  }
  check(!document.segments.empty(), "an accepted record without segments");
  int64_t bytes = 0;
  for (const Segment& segment : document.segments) bytes += static_cast<int64_t>(segment.text.size());
  check(bytes <= limit, "an accepted record over the byte limit");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line = nf::fuzz::as_text(data, size);
  nf::fuzz::expect_refusals<>([&] {
    for (const DatasetFormat format :
         {DatasetFormat::kPretrain, DatasetFormat::kSft, DatasetFormat::kDpo, DatasetFormat::kSequence}) {
      Document document;
      check_result(parse_record(line, format, kMaxDocumentBytes, document), document, kMaxDocumentBytes);
    }
    Document prompt;
    check_result(parse_prompt_record(line, prompt), prompt, INT64_MAX);
  });
  return 0;
}
