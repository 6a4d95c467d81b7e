// UTF-8: validation of input text (the tokenizers and the HDF5 metadata strings assume valid
// UTF-8, so the readers check every line first) and lenient decoding of single code points: an
// invalid byte decodes as itself with `valid` false, so byte-level tokenizers round-trip any bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nf::data {

// Byte offset of the first byte that does not belong to a well-formed UTF-8 sequence (overlong
// forms, surrogates and code points above U+10FFFF included), or std::string_view::npos when
// `text` is valid.
size_t find_invalid_utf8(std::string_view text);

// `text` with every byte that find_invalid_utf8 would stop at replaced by U+FFFD (as Python's
// errors="replace" does per byte): for showing decoded tokens, which may end inside a character.
std::string replace_invalid_utf8(std::string_view text);

struct DecodedCodePoint {
  char32_t code_point = 0;
  uint8_t length = 1;  // bytes consumed, 1..4
  bool valid = true;
};

// Decodes the code point starting at text[pos] (pos < text.size()). Overlong forms, surrogates
// and truncated sequences are invalid and consume one byte.
inline DecodedCodePoint decode_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return {lead, 1, true};
  int length = 0;
  char32_t code_point = 0;
  char32_t minimum = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    return {lead, 1, false};
  }
  if (pos + length > text.size()) return {lead, 1, false};
  for (int i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return {lead, 1, false};
    code_point = (code_point << 6) | (byte(i) & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return {lead, 1, false};
  }
  return {code_point, static_cast<uint8_t>(length), true};
}

// Appends the UTF-8 form of a valid code point.
inline void append_utf8(char32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

}  // namespace nf::data
