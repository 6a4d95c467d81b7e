// manifest.json, the index of a dataset directory: shards per split with token/document counts,
// SHA-256 checksums and the digest of their per-chunk checksums, the tokenizer, the format and the build seed. The
// manifest is written atomically and last, so a directory without one is an incomplete build and is never read.
//
// Multi-rank builds (`mpirun -n N nf-shard build`): every rank writes its own shards, encodes
// its ShardRecords with rank_shards_to_json, the program gathers the texts to rank 0 (through
// its communicator; this layer does no MPI), and rank 0 calls merge_rank_shards and then
// write_manifest. The merged order (rank 0's shards first, each rank's in writing order) is the
// order of the split's token stream.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nf/data/document.h"
#include "nf/data/shard_file.h"
#include "nf/data/shard_format.h"

namespace nf::data {

// One shard file as the manifest lists it; `file` is relative to the dataset directory.
struct ShardRecord {
  std::string file;
  uint64_t tokens = 0;
  uint64_t documents = 0;
  std::string sha256;
  // chunk_table_digest of the shard's per-chunk CRC-32C tables; empty for a shard built before
  // them (the key is then absent from manifest.json).
  std::string chunk_crc32c;
};

struct SplitRecord {
  uint64_t tokens = 0;
  uint64_t documents = 0;
  std::vector<ShardRecord> shards;
};

struct TokenizerRecord {
  std::string kind;         // "bpe" or "sentencepiece"
  std::string file;         // "tokenizer.json" or "tokenizer.model", relative to the dataset
  std::string fingerprint;  // Tokenizer::fingerprint()
  int64_t vocab_size = 0;
};

struct Manifest {
  int64_t format_version = kFormatVersion;
  DatasetFormat format = DatasetFormat::kPretrain;
  std::string chat_template;  // sft and dpo: the template the turns were encoded with; "" otherwise
  TokenizerRecord tokenizer;
  uint64_t seed = 0;
  double val_fraction = 0.0;
  std::map<std::string, SplitRecord> splits;  // "train", "val"
  std::string created_by;

  TokenDtype token_dtype() const { return token_dtype_for_vocab(tokenizer.vocab_size); }
  // The split called `name`; throws DataError naming the dataset and the splits it has.
  const SplitRecord& split(const std::string& name, const std::string& dataset_dir) const;
};

// What a shard of `split` listed as `record` must be: the manifest's format, split, vocabulary
// and tokenizer, and the record's chunk checksum digest.
ShardExpectations shard_expectations(const Manifest& manifest, const std::string& split, const ShardRecord& record);

nlohmann::json manifest_to_json(const Manifest& manifest);
// Parses and checks magic, version and every field; errors name `source` and the key.
Manifest manifest_from_json(const nlohmann::json& json, const std::string& source);

// Reads DIR/manifest.json. A missing manifest is a DataError ("incomplete or not a dataset").
Manifest read_manifest(const std::string& dataset_dir);
// Writes DIR/manifest.json atomically (temporary name, fsync, rename). Recomputes split totals
// from the shard records first, so the counts can never disagree with the list.
void write_manifest(const std::string& dataset_dir, Manifest manifest);

// What one rank of a multi-rank build wrote: its shard records per split.
struct RankShards {
  int rank = 0;
  std::map<std::string, std::vector<ShardRecord>> splits;
};

std::string rank_shards_to_json(const RankShards& shards);
RankShards rank_shards_from_json(const std::string& text);

// Appends every rank's shards to `manifest.splits`, in rank order, and recomputes totals.
// Throws DataError when a rank appears twice or two ranks name the same file.
void merge_rank_shards(Manifest& manifest, std::vector<RankShards> ranks);

}  // namespace nf::data
