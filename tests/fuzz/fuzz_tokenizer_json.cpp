// Fuzz target: a tokenizer.json (Hugging Face tokenizers' format) through load_bpe_tokenizer_json.
// It loads, or is refused with a DataError naming the file and the key; a tokenizer that loads
// passes tokenizer_checks.h.
#include "fuzz_support.h"
#include "nf/data/bpe_files.h"
#include "tokenizer_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nf::fuzz::ScratchFile input("tokenizer.json"), saved("saved.json");
  std::unique_ptr<nf::data::BpeTokenizer> tokenizer;
  nf::fuzz::expect_refusals<nf::DataError>(
      [&] { tokenizer = nf::data::load_bpe_tokenizer_json(input.write(nf::fuzz::as_text(data, size))); });
  if (tokenizer) nf::fuzz::expect_refusals<>([&] { nf::fuzz::check_tokenizer(*tokenizer, saved); });
  return 0;
}
