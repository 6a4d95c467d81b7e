// The checks the tokenizer fuzz targets make of a tokenizer that loaded: it encodes real text
// (ASCII, CJK, emoji, whitespace runs) to ids below its vocab_size that decode back to the text,
// and the tokenizer.json nf writes for it loads back with the same fingerprint.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_support.h"
#include "nf/data/bpe_files.h"

namespace nf::fuzz {

inline void check_tokenizer(const nf::data::BpeTokenizer& tokenizer, const ScratchFile& saved) {
  // NFC and starting with a space, so that normalization and add_prefix_space leave it alone.
  static const std::string kText = " In the beginning, 你好 🙂\n\n\t  the end. 1234 can't";
  const auto fail = [](const char* what) {
    std::fprintf(stderr, "nf fuzz: %s\n", what);
    std::abort();
  };
  const std::vector<nf::data::TokenId> ids = tokenizer.encode(kText);
  for (const nf::data::TokenId id : ids) {
    if (id < 0 || id >= tokenizer.vocab_size()) fail("encode gave an id outside [0, vocab_size)");
  }
  if (tokenizer.decode(ids) != kText) fail("decode(encode(text)) != text");
  const auto reloaded = nf::data::load_bpe_tokenizer_json(saved.write(nf::data::bpe_to_tokenizer_json(tokenizer)));
  if (reloaded->fingerprint() != tokenizer.fingerprint()) fail("the tokenizer.json nf wrote loads differently");
}

}  // namespace nf::fuzz
