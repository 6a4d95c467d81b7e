// GPT-2's byte-level alphabet: every byte is shown as one printable code point, so that a
// tokenizer.json stores arbitrary byte strings as JSON text (space = "Ġ", newline = "Ċ").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nf::data {

// Maps every byte of `bytes` to its GPT-2 code point and returns the result as UTF-8.
std::string bytes_to_byte_level(std::string_view bytes);

// The inverse: every code point of `text` must be one of GPT-2's 256 byte code points, else
// the result is empty (nullopt). Used to read vocabularies and merges of tokenizer.json.
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace nf::data
