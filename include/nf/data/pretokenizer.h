// Pre-tokenization: splits text into the pieces that BPE merges never cross. Hand-written
// equivalents of the split regexes of GPT-2, Llama-3 and Qwen2 over UTF-8 code points, with
// Unicode letter (\p{L}), number (\p{N}) and white-space (\s) classes from ICU.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nf::data {

enum class PreTokenizerPattern {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
  // \s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // Llama-3's pattern with \p{N} (one digit per piece) instead of \p{N}{1,3}.
  kQwen2,
};

// The regex source of a pattern, exactly as tokenizer.json files spell it.
const std::string& pretokenizer_regex(PreTokenizerPattern pattern);
// The pattern whose regex is `regex`, if it is one of the supported ones.
std::optional<PreTokenizerPattern> pretokenizer_from_regex(std::string_view regex);
// Short names for the command line and fingerprints: "gpt2", "llama3", "qwen2".
std::string pretokenizer_name(PreTokenizerPattern pattern);
std::optional<PreTokenizerPattern> pretokenizer_from_name(std::string_view name);

// The end (byte offset) of the piece that starts at `pos` < text.size(). Invalid UTF-8 bytes
// count as one punctuation-like code point each, so every byte string splits.
size_t next_pretoken_end(std::string_view text, size_t pos, PreTokenizerPattern pattern);

// All pieces of `text`, in order; they concatenate to `text`.
std::vector<std::string_view> pretokenize(std::string_view text, PreTokenizerPattern pattern);

}  // namespace nf::data
