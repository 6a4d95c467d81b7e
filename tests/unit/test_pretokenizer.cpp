// Pre-tokenizer and byte-level alphabet: the split patterns of GPT-2, Llama-3 and Qwen2 on
// hand-checked examples (English, contractions, white space, numbers, Chinese, invalid UTF-8).
#include <gtest/gtest.h>

#include "nf/data/byte_level.h"
#include "nf/data/pretokenizer.h"

namespace nf::data {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(std::string_view text, PreTokenizerPattern pattern) {
  Pieces out;
  for (const std::string_view piece : pretokenize(text, pattern)) out.emplace_back(piece);
  return out;
}

TEST(PreTokenizer, Gpt2SplitsWordsNumbersPunctuationAndSpaces) {
  const auto gpt2 = PreTokenizerPattern::kGpt2;
  EXPECT_EQ(split("Hello world", gpt2), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split("I'm  here, 2024!", gpt2), (Pieces{"I", "'m", " ", " here", ",", " 2024", "!"}));
  EXPECT_EQ(split("don't DON'T", gpt2), (Pieces{"don", "'t", " DON", "'", "T"}));
  EXPECT_EQ(split("a\n\nb  ", gpt2), (Pieces{"a", "\n", "\n", "b", "  "}));
  EXPECT_EQ(split("x   \ty", gpt2), (Pieces{"x", "   ", "\t", "y"}));
  EXPECT_EQ(split(" ...'''s", gpt2), (Pieces{" ...'''", "s"}));
  EXPECT_EQ(split("3.14159", gpt2), (Pieces{"3", ".", "14159"}));
}

TEST(PreTokenizer, Gpt2UsesUnicodeLettersAndNumbers) {
  const auto gpt2 = PreTokenizerPattern::kGpt2;
  EXPECT_EQ(split("兰叶春葳蕤，桂华秋皎洁。", gpt2), (Pieces{"兰叶春葳蕤", "，", "桂华秋皎洁", "。"}));
  EXPECT_EQ(split("naïve Ωmega ½ ٣", gpt2), (Pieces{"naïve", " Ωmega", " ½", " ٣"}));
  // U+3000 (ideographic space) is white space; U+1D400 (𝐀, 4 bytes) is a letter; 😀 is neither.
  EXPECT_EQ(split("春\u3000𝐀𝐁😀😀", gpt2), (Pieces{"春", "\u3000", "𝐀𝐁", "😀😀"}));
}

TEST(PreTokenizer, Llama3AttachesOnePrefixCharacterAndSplitsDigitsByThree) {
  const auto llama3 = PreTokenizerPattern::kLlama3;
  EXPECT_EQ(split("Hello (world) 1234567", llama3), (Pieces{"Hello", " (", "world", ")", " ", "123", "456", "7"}));
  EXPECT_EQ(split("I'M here", llama3), (Pieces{"I", "'M", " here"}));
  EXPECT_EQ(split("end.\n\n  Next", llama3), (Pieces{"end", ".\n\n", " ", " Next"}));
  EXPECT_EQ(split("a \n \n b", llama3), (Pieces{"a", " \n \n", " b"}));
  EXPECT_EQ(split("\tword", llama3), (Pieces{"\tword"}));
  EXPECT_EQ(split("12345", PreTokenizerPattern::kQwen2), (Pieces{"1", "2", "3", "4", "5"}));
}

TEST(PreTokenizer, InvalidUtf8BytesStillSplitAndConcatenate) {
  const std::string text = "ab\xff\xfe cd\xe4\xb8";
  std::string joined;
  for (const std::string& piece : split(text, PreTokenizerPattern::kGpt2)) joined += piece;
  EXPECT_EQ(joined, text);
  EXPECT_EQ(split(text, PreTokenizerPattern::kGpt2), (Pieces{"ab", "\xff\xfe", " cd", "\xe4\xb8"}));
}

TEST(PreTokenizer, RegexAndNameLookups) {
  for (const auto pattern : {PreTokenizerPattern::kGpt2, PreTokenizerPattern::kLlama3, PreTokenizerPattern::kQwen2}) {
    EXPECT_EQ(pretokenizer_from_regex(pretokenizer_regex(pattern)), pattern);
    EXPECT_EQ(pretokenizer_from_name(pretokenizer_name(pattern)), pattern);
  }
  EXPECT_FALSE(pretokenizer_from_regex("\\w+"));
}

TEST(ByteLevel, MapsLikeGpt2AndInverts) {
  EXPECT_EQ(bytes_to_byte_level(" the\n"), "Ġthe\u010a");
  std::string all_bytes;
  for (int byte = 0; byte < 256; ++byte) all_bytes += static_cast<char>(byte);
  EXPECT_EQ(byte_level_to_bytes(bytes_to_byte_level(all_bytes)), all_bytes);
  EXPECT_FALSE(byte_level_to_bytes("a b"));  // a plain space is not in the alphabet
  EXPECT_FALSE(byte_level_to_bytes("中"));
}

}  // namespace
}  // namespace nf::data
