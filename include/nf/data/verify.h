// `nf-shard verify`: checks a dataset directory end to end: the manifest, every shard's
// SHA-256 and chunk checksum digest against it, every chunk against its CRC-32C, every shard's
// structure (magic, version, attributes, shapes, offsets, DPO spans), counts against the
// manifest, every token id < vocab_size, loss masks 0/1.
// Problems are collected, not thrown one by one, so a user sees all damaged files at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nf::data {

struct VerifyOptions {
  bool checksums = true;  // recompute SHA-256 of every shard (reads every byte)
  bool token_ids = true;  // scan every token id against vocab_size
};

struct VerifyReport {
  std::vector<std::string> problems;  // one line each, naming the file and what is wrong
  std::vector<std::string> notes;     // harmless findings, e.g. leftover temporary files
  uint64_t shards = 0;
  uint64_t tokens = 0;
  uint64_t documents = 0;
  uint64_t without_chunk_checksums = 0;  // shards built before per-chunk checksums
  bool ok() const { return problems.empty(); }
};

// Throws DataError only when the manifest itself is missing or unreadable.
VerifyReport verify_dataset(const std::string& dataset_dir, const VerifyOptions& options = {});

// Throws DataError with the first problem (and how many more there are) unless report.ok().
void require_valid(const VerifyReport& report, const std::string& dataset_dir);

}  // namespace nf::data
