// A read-only view of one shard: its attributes checked against what the caller expects, the
// token array memory-mapped at its HDF5 file offset (read into memory instead when the dataset
// is not contiguous, not aligned, or not little-endian), the document offsets, loss mask and
// DPO spans, and the metadata strings on demand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nf/data/shard_format.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

// What the opener requires of a shard; unset members accept anything.
struct ShardExpectations {
  std::optional<DatasetFormat> format;
  std::optional<std::string> split;
  int64_t vocab_size = 0;             // 0 = any
  std::string tokenizer_fingerprint;  // empty = any
};

class ShardFile {
 public:
  // Opens and checks structure: magic, version, attributes, shapes and types of every array,
  // doc offsets (start at 0, non-decreasing, end at the token count), DPO spans summing to the
  // document lengths. Throws DataError naming the file and what is wrong.
  ShardFile(const std::string& path, const ShardExpectations& expect = {});
  ~ShardFile();
  ShardFile(ShardFile&& other) noexcept;
  ShardFile& operator=(ShardFile&&) = delete;
  ShardFile(const ShardFile&) = delete;
  ShardFile& operator=(const ShardFile&) = delete;

  const std::string& path() const { return path_; }
  DatasetFormat format() const { return format_; }
  const std::string& split() const { return split_; }
  int64_t shard_index() const { return shard_index_; }
  int64_t vocab_size() const { return vocab_size_; }
  const std::string& tokenizer_fingerprint() const { return fingerprint_; }
  TokenDtype dtype() const { return dtype_; }
  uint64_t num_tokens() const { return num_tokens_; }
  uint64_t num_documents() const { return doc_offsets_.size() - 1; }
  // True when tokens are served straight from the mmapped file (no copy at open).
  bool memory_mapped() const { return mapping_ != nullptr; }

  // Copies tokens [begin, begin + count) as TokenId. Checks every id against vocab_size and
  // throws DataError naming the file and the offset of a bad one.
  void copy_tokens(uint64_t begin, uint64_t count, TokenId* out) const;
  // The loss mask (one byte per token), or nullptr for formats without one.
  const uint8_t* loss_mask() const { return loss_mask_; }
  const std::vector<uint64_t>& doc_offsets() const { return doc_offsets_; }
  const std::vector<DpoSpans>& dpo_spans() const { return dpo_spans_; }
  // The per-document strings of /meta/<field>; empty when the shard has no such field.
  std::vector<std::string> metadata(const std::string& field) const;
  // The metadata fields present in this shard.
  std::vector<std::string> metadata_fields() const;

 private:
  void map_or_read_arrays(int64_t file_handle);

  std::string path_;
  DatasetFormat format_ = DatasetFormat::kPretrain;
  std::string split_;
  int64_t shard_index_ = 0;
  int64_t vocab_size_ = 0;
  std::string fingerprint_;
  TokenDtype dtype_ = TokenDtype::kUint16;
  uint64_t num_tokens_ = 0;
  std::vector<uint64_t> doc_offsets_;
  std::vector<DpoSpans> dpo_spans_;

  // Either the whole file is mapped and the pointers below point into it, or the arrays were
  // read into owned_tokens_/owned_mask_.
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::vector<uint8_t> owned_tokens_;
  std::vector<uint8_t> owned_mask_;
  const uint8_t* tokens_ = nullptr;
  const uint8_t* loss_mask_ = nullptr;
};

}  // namespace nf::data
