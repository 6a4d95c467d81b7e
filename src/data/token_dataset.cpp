// Opening a split (manifest and tokenizer checks, shard-by-shard checks against the manifest)
// and reading ranges of its concatenated token stream.
#include "nf/data/token_dataset.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "nf/core/error.h"
#include "nf/core/hash.h"

namespace nf::data {
namespace {

// The shard holding global position `position` of a prefix-sum table.
size_t locate(const std::vector<uint64_t>& starts, uint64_t position) {
  return static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), position) - starts.begin()) - 1;
}

}  // namespace

TokenDataset::TokenDataset(const std::string& dataset_dir, const TokenDatasetOptions& options)
    : directory_(dataset_dir), split_(options.split), manifest_(read_manifest(dataset_dir)) {
  const TokenizerRecord& tokenizer = manifest_.tokenizer;
  if (options.model_vocab_size != 0 && tokenizer.vocab_size > options.model_vocab_size) {
    throw DataError("dataset '" + dataset_dir + "' has vocab_size " + std::to_string(tokenizer.vocab_size) +
                        " but the model's vocab_size is " + std::to_string(options.model_vocab_size),
                    "set model.vocab_size >= " + std::to_string(tokenizer.vocab_size) +
                        ", or rebuild the dataset with the model's tokenizer");
  }
  if (!options.tokenizer_fingerprint.empty() && options.tokenizer_fingerprint != tokenizer.fingerprint) {
    throw DataError("dataset '" + dataset_dir + "' was tokenized with tokenizer " + tokenizer.fingerprint +
                        ", but the model expects " + options.tokenizer_fingerprint,
                    "rebuild the dataset with the model's tokenizer (nf-shard build --tokenizer …), or train with "
                    "the dataset's tokenizer");
  }
  const SplitRecord& split = manifest_.split(split_, dataset_dir);
  if (split.tokens == 0) {
    throw DataError("split '" + split_ + "' of dataset '" + dataset_dir + "' has no tokens",
                    "build the dataset from more input, or lower val_fraction");
  }
  for (const ShardRecord& record : split.shards) {
    ShardExpectations expect = shard_expectations(manifest_, split_, record);
    expect.verify_chunks = options.verify_chunks;
    const std::string path = (std::filesystem::path(dataset_dir) / record.file).string();
    if (options.verify_checksums) {
      if (!std::filesystem::exists(path)) {
        throw DataError("shard '" + path + "' is missing", "the dataset is incomplete; " + std::string(kRebuildHint));
      }
      const std::string actual = sha256_file(path);
      if (actual != record.sha256) {
        throw DataError(
            "checksum mismatch in shard '" + path + "': sha256 " + actual + ", manifest says " + record.sha256,
            "the file was changed or damaged after the build; " + std::string(kRebuildHint));
      }
    }
    ShardFile shard(path, expect);
    if (shard.num_tokens() != record.tokens || shard.num_documents() != record.documents) {
      throw DataError("shard '" + path + "' has " + std::to_string(shard.num_tokens()) + " tokens and " +
                          std::to_string(shard.num_documents()) + " documents, the manifest says " +
                          std::to_string(record.tokens) + " and " + std::to_string(record.documents),
                      kRebuildHint);
    }
    has_chunk_checksums_ = has_chunk_checksums_ && shard.has_chunk_checksums();
    for (const std::string& field : options.metadata_fields) {
      std::vector<std::string> values = shard.metadata(field);
      values.resize(shard.num_documents());  // a shard without the field: "" for each document
      std::vector<std::string>& all = metadata_[field];
      all.insert(all.end(), std::make_move_iterator(values.begin()), std::make_move_iterator(values.end()));
    }
    token_starts_.push_back(token_starts_.back() + shard.num_tokens());
    doc_starts_.push_back(doc_starts_.back() + shard.num_documents());
    shards_.push_back(std::move(shard));
  }
}

void TokenDataset::copy_tokens(uint64_t begin, uint64_t count, TokenId* out) const {
  NF_CHECK(begin + count <= num_tokens(), Error, "TokenDataset::copy_tokens: [", begin, ", ", begin + count,
           ") is past the ", num_tokens(), " tokens of split '", split_, "'");
  for (size_t shard = locate(token_starts_, begin); count > 0; ++shard) {
    const uint64_t local = begin - token_starts_[shard];
    const uint64_t take = std::min(count, shards_[shard].num_tokens() - local);
    shards_[shard].copy_tokens(local, take, out);
    out += take;
    begin += take;
    count -= take;
  }
}

void TokenDataset::copy_loss_mask(uint64_t begin, uint64_t count, uint8_t* out) const {
  NF_CHECK(begin + count <= num_tokens(), Error, "TokenDataset::copy_loss_mask: range past the end of the split");
  if (!format_has_loss_mask(manifest_.format)) {
    std::memset(out, 1, count);
    return;
  }
  for (size_t shard = locate(token_starts_, begin); count > 0; ++shard) {
    const uint64_t local = begin - token_starts_[shard];
    const uint64_t take = std::min(count, shards_[shard].num_tokens() - local);
    shards_[shard].copy_loss_mask(local, take, out);
    out += take;
    begin += take;
    count -= take;
  }
}

void TokenDataset::copy_document_ids(uint64_t begin, uint64_t count, int64_t* out) const {
  NF_CHECK(begin + count <= num_tokens(), Error, "TokenDataset::copy_document_ids: [", begin, ", ", begin + count,
           ") is past the ", num_tokens(), " tokens of split '", split_, "'");
  for (size_t shard = locate(token_starts_, begin); count > 0; ++shard) {
    const std::vector<uint64_t>& offsets = shards_[shard].doc_offsets();
    uint64_t local = begin - token_starts_[shard];
    const uint64_t take = std::min(count, shards_[shard].num_tokens() - local);
    auto doc = static_cast<size_t>(locate(offsets, local));
    for (uint64_t i = 0; i < take; ++i, ++local) {
      while (offsets[doc + 1] <= local) ++doc;
      *out++ = static_cast<int64_t>(doc_starts_[shard] + doc);
    }
    begin += take;
    count -= take;
  }
}

TokenDataset::DocumentRef TokenDataset::document(uint64_t index) const {
  NF_CHECK(index < num_documents(), Error, "TokenDataset::document: ", index, " >= ", num_documents());
  const size_t shard = locate(doc_starts_, index);
  const uint64_t local = index - doc_starts_[shard];
  const ShardFile& file = shards_[shard];
  DocumentRef ref;
  ref.begin = token_starts_[shard] + file.doc_offsets()[local];
  ref.length = file.doc_offsets()[local + 1] - file.doc_offsets()[local];
  if (!file.dpo_spans().empty()) ref.dpo = file.dpo_spans()[local];
  return ref;
}

const std::string& TokenDataset::document_metadata(const std::string& field, uint64_t index) const {
  const auto found = metadata_.find(field);
  NF_CHECK(found != metadata_.end(), UsageError, "TokenDataset: metadata '", field,
           "' was not read at open (TokenDatasetOptions::metadata_fields)");
  NF_CHECK(index < found->second.size(), Error, "TokenDataset::document_metadata: ", index,
           " >= ", found->second.size());
  return found->second[index];
}

}  // namespace nf::data
