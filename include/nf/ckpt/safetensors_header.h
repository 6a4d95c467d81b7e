// The safetensors header (safetensors.h describes the format), read and checked without LibTorch:
// the 8-byte header length, then the JSON that lists every tensor's dtype, shape and byte range
// and the string metadata. SafetensorsFile opens files through it; the fuzz target
// tests/fuzz/fuzz_safetensors.cpp calls it directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace nf::ckpt {

using Metadata = std::map<std::string, std::string>;

// The header key of the string -> string metadata.
inline constexpr const char* kSafetensorsMetadataKey = "__metadata__";

// One tensor of a header, with its dtype as the format spells it ("F32", "BF16", ...).
struct HeaderTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range in the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<HeaderTensor> tensors;  // in the order of the data section
  Metadata metadata;
};

// Bytes per element of a dtype nf reads ("F64" ... "BOOL"); 0 for any other name.
size_t safetensors_dtype_bytes(const std::string& name);

// The header length, from `start`: the first bytes (up to 8) of `path`, a file of `file_size` bytes.
// CheckpointError when the file is too short for the length, or the length is over the 100 MB
// limit or runs past the end of the file.
uint64_t safetensors_header_length(const std::string& path, std::string_view start, uint64_t file_size);

// Parses `text`, the JSON header of `path` (the file's bytes 8 .. 8 + text.size(), of `file_size`),
// and checks it: CheckpointError naming the file (and the tensor and offset) for bad JSON, an
// unknown dtype, a byte range that does not match dtype x shape, or ranges that overlap, leave
// holes, or run past the end of the file.
SafetensorsHeader parse_safetensors_header(const std::string& path, std::string_view text, uint64_t file_size);

}  // namespace nf::ckpt
