// Learning byte-level BPE merges from a corpus: count the unique pre-tokens (multi-threaded),
// then merge the most frequent adjacent pair over and over, updating pair counts incrementally.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nf/data/bpe_tokenizer.h"

namespace nf::data {

struct BpeTrainerOptions {
  int64_t vocab_size = 8192;  // specials + 256 bytes + merged tokens
  int threads = 1;            // for counting pre-tokens; the result does not depend on it
  PreTokenizerPattern pattern = PreTokenizerPattern::kGpt2;
  std::vector<std::string> special_tokens = default_special_tokens();  // ids 0, 1, … in this order
};

// Unique pre-tokens and how often each occurs.
using PieceCounts = std::unordered_map<std::string, uint64_t>;

// Adds the pre-tokens of `texts` to `counts`, `threads` texts at a time. Pieces never cross the
// boundary between two texts.
void count_pieces(const std::vector<std::string_view>& texts, PreTokenizerPattern pattern, int threads,
                  PieceCounts& counts);

// Counts the pre-tokens of text files. Each file is cut into chunks of about 1 MiB at line ends
// (independently of `threads`, so the counts are deterministic) that are counted in parallel.
PieceCounts count_pieces_in_files(const std::vector<std::string>& paths, PreTokenizerPattern pattern, int threads);

// Learns merges until the vocabulary has `options.vocab_size` ids or no pair is left. Ties
// between pairs of equal count go to the pair whose (left, right) bytes sort first, so the
// result depends only on the counts. Throws UsageError when vocab_size cannot hold the specials
// and the 256 bytes.
BpeTokenizer train_bpe(const PieceCounts& counts, const BpeTrainerOptions& options);

}  // namespace nf::data
