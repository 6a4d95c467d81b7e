// GPT-2's bytes_to_unicode table and its inverse (openai/gpt-2 encoder.py): printable Latin-1
// bytes map to themselves, the other 68 bytes to U+0100 onwards, in byte order.
#include "nf/data/byte_level.h"

#include <array>
#include <cstdint>

#include "nf/data/utf8.h"

namespace nf::data {
namespace {

constexpr bool is_printable_byte(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

constexpr std::array<char32_t, 256> make_byte_to_code_point() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int byte = 0; byte < 256; ++byte) table[byte] = is_printable_byte(byte) ? char32_t(byte) : next++;
  return table;
}

// Code points U+0000..U+0143 back to bytes; -1 where a code point is not in the alphabet.
constexpr std::array<int16_t, 324> make_code_point_to_byte() {
  std::array<int16_t, 324> table{};
  for (auto& entry : table) entry = -1;
  const auto forward = make_byte_to_code_point();
  for (int byte = 0; byte < 256; ++byte) table[forward[byte]] = static_cast<int16_t>(byte);
  return table;
}

constexpr std::array<char32_t, 256> kByteToCodePoint = make_byte_to_code_point();
constexpr std::array<int16_t, 324> kCodePointToByte = make_code_point_to_byte();

}  // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char byte : bytes) append_utf8(kByteToCodePoint[static_cast<uint8_t>(byte)], out);
  return out;
}

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const DecodedCodePoint decoded = decode_utf8(text, pos);
    if (!decoded.valid || decoded.code_point >= kCodePointToByte.size()) return std::nullopt;
    const int16_t byte = kCodePointToByte[decoded.code_point];
    if (byte < 0) return std::nullopt;
    out += static_cast<char>(byte);
    pos += decoded.length;
  }
  return out;
}

}  // namespace nf::data
