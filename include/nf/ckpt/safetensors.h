// The safetensors file format (Hugging Face), written and read without the Python package:
//
//   [8 bytes: header length N, unsigned little-endian] [N bytes: JSON header] [data]
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (byte
// offsets into the data section) and may hold "__metadata__" (string -> string). The tensors'
// byte ranges tile the data section exactly, in the order written. docs/checkpoints.md has more.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nf/ckpt/safetensors_header.h"

namespace nf::ckpt {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The safetensors spelling of a dtype ("F32", "BF16", ...) and back; CheckpointError for dtypes
// the format has no name for.
std::string safetensors_dtype_name(torch::ScalarType dtype);
torch::ScalarType scalar_type_from_safetensors(const std::string& name);

// Writes `tensors` (CPU tensors, any layout) in the given order, with `metadata` as __metadata__
// (left out when empty). The data is streamed to a temporary sibling renamed over `path` at the
// end, so a crash never leaves a partial file under the final name. Throws CheckpointError for a
// duplicate, empty or reserved name or a non-CPU tensor, IoError when the file cannot be written.
// Returns the file's SHA-256 (hex), computed while writing.
std::string write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

struct TensorInfo {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range in the data section
  uint64_t end = 0;
};

// An opened, validated safetensors file. Opening reads only the header; the data section is
// memory-mapped and touched only by read(), so listing a large checkpoint is cheap.
class SafetensorsFile {
 public:
  // Throws IoError when the file cannot be opened, CheckpointError naming the file (and the tensor
  // and offset) when the header is malformed: a length beyond the file or the 100 MB limit, bad
  // JSON, an unknown dtype, a byte range that does not match dtype x shape, or ranges that
  // overlap, leave holes, or run past the end of the file.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // Every tensor, in the order of the data section.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const Metadata& metadata() const { return metadata_; }
  bool contains(const std::string& name) const;
  // CheckpointError naming the file and the tensor when there is none of that name.
  const TensorInfo& info(const std::string& name) const;

  // A copy of one tensor's data (owning, contiguous, aligned). Copying, not wrapping the mapping,
  // because the format packs tensors back to back with no alignment: an F32 tensor may start at
  // an odd address.
  torch::Tensor read(const std::string& name) const;
  // The named tensors, in the order asked for.
  NamedTensors read(const std::vector<std::string>& names) const;
  // Every tensor, in file order.
  NamedTensors read_all() const;

 private:
  std::string path_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  Metadata metadata_;
  const unsigned char* mapping_ = nullptr;  // the whole file, read-only
  size_t file_size_ = 0;
  uint64_t data_start_ = 0;  // 8 + header length
};

// A listing for people (nf-ckpt inspect): the metadata, then one line per tensor with its dtype,
// shape and byte range, then the totals. Reads only the header.
std::string describe(const SafetensorsFile& file);

}  // namespace nf::ckpt
