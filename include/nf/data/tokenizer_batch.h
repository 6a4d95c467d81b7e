// Encoding many documents at once on several threads (the shard builder's hot loop).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nf/data/bpe_cache.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

// Encodes texts[i] into result[i], spreading the texts over `threads` threads (std::thread).
// The result does not depend on `threads`. A byte-level BPE keeps one piece cache per thread:
// in `caches` when given (one per thread, created as needed), so that the caches stay warm from
// one call to the next, else fresh ones for this call.
std::vector<std::vector<TokenId>> encode_batch(const Tokenizer& tokenizer, const std::vector<std::string_view>& texts,
                                               int threads, std::vector<BpeCache>* caches = nullptr);

}  // namespace nf::data
