// Constants and small value types of the dataset format (docs/data-format.md, version 1) shared
// by the shard writer, the manifest, verify/inspect and the reader.
#pragma once

#include <cstdint>
#include <string>

#include "nf/data/document.h"

namespace nf::data {

inline constexpr const char* kShardMagic = "NFTOKENS";
inline constexpr const char* kManifestMagic = "NFDATASET";
inline constexpr int64_t kFormatVersion = 1;
inline constexpr const char* kManifestFile = "manifest.json";
// Every nf::DataError about a dataset ends with this advice unless a more precise one applies.
inline constexpr const char* kRebuildHint = "re-run nf-shard build to recreate the dataset";

// Names of the HDF5 objects in a shard.
inline constexpr const char* kTokensPath = "tokens";
inline constexpr const char* kDocOffsetsPath = "doc_offsets";
inline constexpr const char* kLossMaskPath = "loss_mask";
inline constexpr const char* kDpoSpansPath = "dpo_spans";
inline constexpr const char* kMetaGroup = "meta";
// Per-chunk CRC-32C tables (chunk_checksums.h): /chunk_crc32c/<array> for each array above, and
// the attribute chunk_bytes on the group. Shards written before them have no such group.
inline constexpr const char* kChunkChecksumGroup = "chunk_crc32c";
inline constexpr uint64_t kChunkBytes = uint64_t{1} << 20;
// The arrays that carry chunk checksums, in the order the manifest's digest takes their tables.
inline constexpr const char* kChecksummedArrays[] = {kTokensPath, kDocOffsetsPath, kLossMaskPath, kDpoSpansPath};
// The metadata fields a shard may carry, one string per document each.
inline constexpr const char* kMetadataFields[] = {"id", "emotion", "scene"};

enum class TokenDtype { kUint16, kUint32 };

// uint16 when every id of a vocabulary of `vocab_size` fits (vocab_size <= 65536), else uint32.
TokenDtype token_dtype_for_vocab(int64_t vocab_size);
const char* token_dtype_name(TokenDtype dtype);
size_t token_dtype_bytes(TokenDtype dtype);

// "pretrain", "sft", "dpo", "sequence" and back; parse throws DataError naming `where`.
const char* format_name(DatasetFormat format);
DatasetFormat parse_format(const std::string& name, const std::string& where);
// Whether shards of this format carry /loss_mask (sft, sequence) or /dpo_spans (dpo).
bool format_has_loss_mask(DatasetFormat format);
bool format_has_dpo_spans(DatasetFormat format);

// Token lengths of the three parts of a DPO document, stored prompt ‖ chosen ‖ rejected.
struct DpoSpans {
  uint64_t prompt = 0;
  uint64_t chosen = 0;
  uint64_t rejected = 0;
  uint64_t total() const { return prompt + chosen + rejected; }
};

}  // namespace nf::data
