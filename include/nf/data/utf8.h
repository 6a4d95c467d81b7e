// UTF-8 validation for input text: the tokenizers and the HDF5 metadata strings assume valid
// UTF-8, so the readers check every line before anything else looks at it.
#pragma once

#include <cstddef>
#include <string_view>

namespace nf::data {

// Byte offset of the first byte that does not belong to a well-formed UTF-8 sequence (overlong
// forms, surrogates and code points above U+10FFFF included), or std::string_view::npos when
// `text` is valid.
size_t find_invalid_utf8(std::string_view text);

}  // namespace nf::data
