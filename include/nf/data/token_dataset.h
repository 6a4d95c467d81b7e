// One split of a dataset as the trainer reads it: the manifest checked against what the model
// expects (tokenizer fingerprint, vocabulary size), every shard opened and checked against the
// manifest (counts, chunk checksum digest), and the shards' token arrays seen as one
// concatenated token stream in manifest order, each chunk checked as it is first read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nf/data/manifest.h"
#include "nf/data/shard_file.h"

namespace nf::data {

struct TokenDatasetOptions {
  std::string split = "train";
  // From the model config: ids must fit the embedding, so the dataset's vocab_size must be
  // <= this (a model may pad its vocabulary). 0 = do not check.
  int64_t model_vocab_size = 0;
  // The tokenizer the model was trained with (checkpoint/config); empty = do not check.
  std::string tokenizer_fingerprint;
  // Recompute every shard's SHA-256 at open (reads every byte once; `nf-shard verify` does the same).
  bool verify_checksums = false;
  // Check each chunk of the token arrays and masks against the shard's CRC-32C the first time
  // it is read (ShardExpectations::verify_chunks); off only to measure what it costs.
  bool verify_chunks = true;
  // Per-document metadata to read at open (kMetadataFields: "emotion", ...), for document_metadata().
  std::vector<std::string> metadata_fields;
};

class TokenDataset {
 public:
  // Throws DataError for a missing/incomplete manifest, a tokenizer or vocabulary mismatch, a
  // missing, damaged or mismatched shard, or a checksum mismatch; each names the file.
  TokenDataset(const std::string& dataset_dir, const TokenDatasetOptions& options = {});

  const std::string& directory() const { return directory_; }
  const Manifest& manifest() const { return manifest_; }
  DatasetFormat format() const { return manifest_.format; }
  const std::string& split() const { return split_; }
  uint64_t num_tokens() const { return token_starts_.back(); }
  uint64_t num_documents() const { return doc_starts_.back(); }
  const std::vector<ShardFile>& shards() const { return shards_; }
  // False when a shard was built before per-chunk checksums: damage in it goes unnoticed until
  // `nf-shard verify` (whole-file SHA-256) is run.
  bool has_chunk_checksums() const { return has_chunk_checksums_; }

  // Tokens [begin, begin + count) of the split's concatenated stream (may span shards).
  void copy_tokens(uint64_t begin, uint64_t count, TokenId* out) const;
  // The loss mask of the same range; all ones for formats without a mask (pretrain, dpo).
  void copy_loss_mask(uint64_t begin, uint64_t count, uint8_t* out) const;

  // For each token of [begin, begin + count): the index (over the whole split) of the document
  // holding it, so that packed windows can keep documents apart (training.document_mask).
  void copy_document_ids(uint64_t begin, uint64_t count, int64_t* out) const;

  // Document `index` over the whole split: its tokens' range in the stream and its DPO spans.
  struct DocumentRef {
    uint64_t begin = 0;  // in the concatenated stream
    uint64_t length = 0;
    DpoSpans dpo;  // zero for formats other than dpo
  };
  DocumentRef document(uint64_t index) const;
  // The metadata `field` of document `index` ("" where the input had none), for a field that
  // TokenDatasetOptions::metadata_fields named; UsageError for another.
  const std::string& document_metadata(const std::string& field, uint64_t index) const;

 private:
  std::string directory_;
  std::string split_;
  Manifest manifest_;
  std::vector<ShardFile> shards_;
  std::vector<uint64_t> token_starts_{0};  // prefix sums of shard token counts
  std::vector<uint64_t> doc_starts_{0};    // prefix sums of shard document counts
  bool has_chunk_checksums_ = true;
  std::map<std::string, std::vector<std::string>> metadata_;  // field -> one value per document
};

}  // namespace nf::data
