// Fuzz target: GPT-2's vocab.json + merges.txt through load_bpe_vocab_merges. The input is the two
// files joined by a NUL byte (vocab.json first; no NUL: an empty merges.txt). They load, or are
// refused with a DataError naming the file; a tokenizer that loads passes tokenizer_checks.h.
#include <cstring>

#include "fuzz_support.h"
#include "nf/data/bpe_files.h"
#include "tokenizer_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nf::fuzz::ScratchFile vocab("vocab.json"), merges("merges.txt"), saved("saved.json");
  const std::string_view input = nf::fuzz::as_text(data, size);
  const size_t split = std::min(input.find('\0'), input.size());
  vocab.write(input.substr(0, split));
  merges.write(input.substr(std::min(split + 1, input.size())));
  std::unique_ptr<nf::data::BpeTokenizer> tokenizer;
  nf::fuzz::expect_refusals<nf::DataError>(
      [&] { tokenizer = nf::data::load_bpe_vocab_merges(vocab.path(), merges.path()); });
  if (tokenizer) nf::fuzz::expect_refusals<>([&] { nf::fuzz::check_tokenizer(*tokenizer, saved); });
  return 0;
}
