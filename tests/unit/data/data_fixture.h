// Test fixtures for the dataset layer: real text (the KJV bible via `bible`, Tang poems in
// Chinese UTF-8) turned into token ids byte by byte (vocab 260: bytes, then <eos> = 256 and
// role markers), and small datasets written through the real writer; temporary directories are
// tests/support/temp_dir.h's.
#pragma once

#include <string>
#include <vector>

#include "../../support/temp_dir.h"
#include "nf/data/manifest.h"
#include "nf/data/shard_writer.h"

namespace nf::data::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction; its
// path as a string is path_string(), and file(name) is path_string() + "/" + name (parents created).
using ::nf::testing::TempDir;

constexpr int64_t kByteVocab = 260;
constexpr TokenId kEos = 256;
constexpr TokenId kUser = 257;
constexpr TokenId kAssistant = 258;
constexpr const char* kFingerprint = "bytes-v1-test-fingerprint";

// Verses of `range` (e.g. "Gen1:1-Gen3:24") printed by `bible -f`, one per element.
std::vector<std::string> bible_verses(const std::string& range);
// The poems of /usr/share/games/fortunes/tang300, ANSI colour codes removed.
std::vector<std::string> tang_poems();

// text bytes ‖ <eos>, for pretrain.
EncodedDocument pretrain_document(const std::string& text);
// <user> question <eos> <assistant> answer <eos>, loss mask on answer and its <eos>.
EncodedDocument sft_document(const std::string& question, const std::string& answer);
// prompt = <user> prompt <assistant>, chosen/rejected = text <eos>.
EncodedDocument dpo_document(const std::string& prompt, const std::string& chosen, const std::string& rejected);

// Writes `docs` as split "train" (and `val_docs` as "val" when not empty) plus a manifest.
Manifest write_dataset(const std::string& dir, DatasetFormat format, const std::vector<EncodedDocument>& docs,
                       uint64_t target_shard_bytes = uint64_t{1} << 20,
                       const std::vector<EncodedDocument>& val_docs = {});

// Makes the dataset in `dir` look built before per-chunk checksums: drops /chunk_crc32c from
// every shard and the digests from the manifest.
void strip_chunk_checksums(const std::string& dir);

// Every token of the docs back to back: the split's expected token stream.
std::vector<TokenId> concatenated_tokens(const std::vector<EncodedDocument>& docs);

}  // namespace nf::data::testing
