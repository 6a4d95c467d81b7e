// The GPT-2 / Llama-3 / Qwen2 split patterns, hand-written as a scanner: each function follows
// its regex's alternatives in order, as a backtracking regex engine would try them.
#include "nf/data/pretokenizer.h"

#include <unicode/uchar.h>

#include <array>

#include "nf/data/utf8.h"

namespace nf::data {
namespace {

enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

constexpr std::array<CharClass, 128> make_ascii_classes() {
  std::array<CharClass, 128> table{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      table[c] = CharClass::kLetter;
    } else if (c >= '0' && c <= '9') {
      table[c] = CharClass::kNumber;
    } else if ((c >= '\t' && c <= '\r') || c == ' ') {  // Unicode White_Space in ASCII
      table[c] = CharClass::kSpace;
    } else {
      table[c] = CharClass::kOther;
    }
  }
  return table;
}
constexpr std::array<CharClass, 128> kAsciiClasses = make_ascii_classes();

CharClass classify(const DecodedCodePoint& decoded) {
  if (!decoded.valid) return CharClass::kOther;
  const char32_t cp = decoded.code_point;
  if (cp < 128) return kAsciiClasses[cp];
  if (u_isUWhiteSpace(static_cast<UChar32>(cp))) return CharClass::kSpace;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return CharClass::kLetter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return CharClass::kNumber;
    default:
      return CharClass::kOther;
  }
}

// One code point of the text being scanned: where it starts and ends, and its class.
struct Char {
  char32_t code_point = 0;
  size_t begin = 0;
  size_t end = 0;
  CharClass cls = CharClass::kOther;
  bool is_newline() const { return code_point == '\r' || code_point == '\n'; }
};

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}
  bool has(size_t pos) const { return pos < text_.size(); }
  Char at(size_t pos) const {
    const auto lead = static_cast<uint8_t>(text_[pos]);
    if (lead < 0x80) return {lead, pos, pos + 1, kAsciiClasses[lead]};  // most text: no decoding
    const DecodedCodePoint decoded = decode_utf8(text_, pos);
    return {decoded.valid ? decoded.code_point : 0xFFFD, pos, pos + decoded.length, classify(decoded)};
  }
  // The end of the run of `cls` characters starting at `pos`, at most `limit` characters long.
  size_t run_end(size_t pos, CharClass cls, size_t limit = SIZE_MAX) const {
    size_t count = 0;
    while (has(pos) && count < limit) {
      const Char c = at(pos);
      if (c.cls != cls) break;
      pos = c.end;
      ++count;
    }
    return pos;
  }
  // 's|'t|'re|'ve|'m|'ll|'d at `pos` (which holds the apostrophe): the match end, or 0.
  size_t contraction_end(size_t pos, bool ignore_case) const {
    const auto lower = [&](size_t i) -> char {
      if (!has(i)) return 0;
      const char c = text_[i];
      return ignore_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    const char first = lower(pos + 1);
    if (first == 's' || first == 't' || first == 'm' || first == 'd') return pos + 2;
    const char second = lower(pos + 2);
    if ((first == 'r' && second == 'e') || (first == 'v' && second == 'e') || (first == 'l' && second == 'l')) {
      return pos + 3;
    }
    return 0;
  }
  // \s+(?!\S)|\s+ for the white-space run starting at `pos`: the run without its last character
  // when a non-space follows and the run is longer than one character, else the whole run.
  size_t whitespace_end(size_t pos) const {
    size_t last_begin = pos;
    size_t end = pos;
    while (has(end)) {
      const Char c = at(end);
      if (c.cls != CharClass::kSpace) break;
      last_begin = end;
      end = c.end;
    }
    if (!has(end) || last_begin == pos) return end;
    return last_begin;
  }

 private:
  std::string_view text_;
};

size_t gpt2_end(const Scanner& scan, size_t pos) {
  const Char first = scan.at(pos);
  if (first.code_point == '\'') {
    if (const size_t end = scan.contraction_end(pos, false)) return end;
  }
  // ' ?\p{L}+', ' ?\p{N}+' and ' ?[^\s\p{L}\p{N}]+' share their shape: an optional space and a
  // run of one class.
  Char body = first;
  if (first.code_point == ' ' && scan.has(first.end)) {
    const Char next = scan.at(first.end);
    if (next.cls != CharClass::kSpace) body = next;
  }
  if (body.cls != CharClass::kSpace) return scan.run_end(body.begin, body.cls);
  return scan.whitespace_end(pos);
}

size_t llama3_end(const Scanner& scan, size_t pos, size_t max_digits) {
  const Char first = scan.at(pos);
  if (first.code_point == '\'') {
    if (const size_t end = scan.contraction_end(pos, true)) return end;
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (first.cls == CharClass::kLetter) return scan.run_end(pos, CharClass::kLetter);
  if (!first.is_newline() && first.cls != CharClass::kNumber && scan.has(first.end) &&
      scan.at(first.end).cls == CharClass::kLetter) {
    return scan.run_end(first.end, CharClass::kLetter);
  }
  // \p{N}{1,3}
  if (first.cls == CharClass::kNumber) return scan.run_end(pos, CharClass::kNumber, max_digits);
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  size_t body = pos;
  if (first.code_point == ' ' && scan.has(first.end) && scan.at(first.end).cls == CharClass::kOther) body = first.end;
  if (scan.at(body).cls == CharClass::kOther) {
    size_t end = scan.run_end(body, CharClass::kOther);
    while (scan.has(end) && scan.at(end).is_newline()) ++end;
    return end;
  }
  // \s*[\r\n]+ : white space up to and including the run's last newline.
  size_t newline_end = 0;
  for (size_t at = pos; scan.has(at);) {
    const Char c = scan.at(at);
    if (c.cls != CharClass::kSpace) break;
    if (c.is_newline()) newline_end = c.end;
    at = c.end;
  }
  if (newline_end != 0) return newline_end;
  return scan.whitespace_end(pos);
}

const std::array<std::string, 3> kRegexes = {
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
};
const std::array<const char*, 3> kNames = {"gpt2", "llama3", "qwen2"};

}  // namespace

const std::string& pretokenizer_regex(PreTokenizerPattern pattern) { return kRegexes[static_cast<size_t>(pattern)]; }

std::optional<PreTokenizerPattern> pretokenizer_from_regex(std::string_view regex) {
  for (size_t i = 0; i < kRegexes.size(); ++i) {
    if (kRegexes[i] == regex) return static_cast<PreTokenizerPattern>(i);
  }
  return std::nullopt;
}

std::string pretokenizer_name(PreTokenizerPattern pattern) { return kNames[static_cast<size_t>(pattern)]; }

std::optional<PreTokenizerPattern> pretokenizer_from_name(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (name == kNames[i]) return static_cast<PreTokenizerPattern>(i);
  }
  return std::nullopt;
}

size_t next_pretoken_end(std::string_view text, size_t pos, PreTokenizerPattern pattern) {
  const Scanner scan(text);
  switch (pattern) {
    case PreTokenizerPattern::kGpt2:
      return gpt2_end(scan, pos);
    case PreTokenizerPattern::kLlama3:
      return llama3_end(scan, pos, 3);
    case PreTokenizerPattern::kQwen2:
      return llama3_end(scan, pos, 1);
  }
  return text.size();
}

std::vector<std::string_view> pretokenize(std::string_view text, PreTokenizerPattern pattern) {
  std::vector<std::string_view> pieces;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = next_pretoken_end(text, pos, pattern);
    pieces.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return pieces;
}

}  // namespace nf::data
