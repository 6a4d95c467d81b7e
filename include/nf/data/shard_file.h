// A read-only view of one shard: its attributes checked against what the caller expects, the
// token array memory-mapped at its HDF5 file offset (read into memory instead when the dataset
// is not contiguous, not aligned, or not little-endian), the document offsets, loss mask and
// DPO spans, and the metadata strings on demand. Every array is checked against the shard's
// per-chunk CRC-32C tables (chunk_checksums.h): offsets and spans at open, tokens and mask chunk
// by chunk as they are first read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nf/data/chunk_checksums.h"
#include "nf/data/shard_format.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

// What the opener requires of a shard; unset members accept anything.
struct ShardExpectations {
  std::optional<DatasetFormat> format;
  std::optional<std::string> split;
  int64_t vocab_size = 0;             // 0 = any
  std::string tokenizer_fingerprint;  // empty = any
  // The manifest's digest of the shard's chunk checksum tables (ShardRecord::chunk_crc32c);
  // empty = a dataset built before them, whose shards may have no tables.
  std::string chunk_crc32c;
  // Check each chunk of /tokens and /loss_mask against its CRC-32C the first time it is read
  // (benchmarks turn this off to measure its cost). /doc_offsets and /dpo_spans are checked at open.
  bool verify_chunks = true;
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

  // Whether the shard carries per-chunk checksums (shards built before them do not).
  bool has_chunk_checksums() const { return has_chunk_checksums_; }

  // Copies tokens [begin, begin + count) as TokenId, after checking the chunks they lie in.
  // Checks every id against vocab_size. Throws DataError naming the file and the damaged chunk
  // or the offset of a bad id.
  void copy_tokens(uint64_t begin, uint64_t count, TokenId* out) const;
  bool has_loss_mask() const { return loss_mask_ != nullptr; }
  // Copies mask bytes [begin, begin + count) after checking their chunks, as copy_tokens does.
  void copy_loss_mask(uint64_t begin, uint64_t count, uint8_t* out) const;
  // The whole loss mask (one byte per token), checked chunk by chunk first; nullptr for formats
  // without one.
  const uint8_t* loss_mask() const;
  // Checks every chunk of every array (nf-shard verify); throws DataError at the first bad one.
  void verify_all_chunks() const;
  const std::vector<uint64_t>& doc_offsets() const { return doc_offsets_; }
  const std::vector<DpoSpans>& dpo_spans() const { return dpo_spans_; }
  // The per-document strings of /meta/<field>; empty when the shard has no such field.
  std::vector<std::string> metadata(const std::string& field) const;
  // The metadata fields present in this shard.
  std::vector<std::string> metadata_fields() const;

 private:
  struct StoredChunkTables;
  void map_or_read_arrays(int64_t file_handle, const ShardExpectations& expect, StoredChunkTables& tables);

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

  bool has_chunk_checksums_ = false;
  ChunkVerifier tokens_check_;
  ChunkVerifier mask_check_;
};

}  // namespace nf::data
