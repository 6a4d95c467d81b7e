// Per-chunk CRC-32C checksums (issue #21): what nf-shard build records, and damage found as data
// is read: a flipped byte in a token chunk, the offsets or the mask, a shard swapped in from
// another build, and datasets built before the checksums. Damage is made with raw file writes at
// the offsets HDF5 reports, as a bad disk or a broken copy would make it.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>

#include "data_fixture.h"
#include "nf/core/crc32c.h"
#include "nf/core/error.h"
#include "nf/data/data_loader.h"
#include "nf/data/verify.h"

namespace nf::data {
namespace {

using namespace nf::data::testing;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = uint64_t{1} << 20;

// sft documents of synthetic ids: 2.5 MiB of uint16 tokens (3 chunks) and a 1.25 MiB mask (2).
std::vector<EncodedDocument> synthetic_documents(TokenId salt = 0) {
  std::vector<EncodedDocument> docs;
  uint32_t state = 7;
  for (int d = 0; d < 1280; ++d) {
    EncodedDocument doc;
    for (int t = 0; t < 1024; ++t) {
      state = state * 1664525u + 1013904223u;
      doc.tokens.push_back(static_cast<TokenId>((state >> 16) % 256));
      doc.loss_mask.push_back(static_cast<uint8_t>(t >= 512));
    }
    doc.tokens[0] = static_cast<TokenId>((doc.tokens[0] + salt) % 256);
    docs.push_back(std::move(doc));
  }
  return docs;
}

// Where array `name` of a shard starts in the file.
uint64_t file_offset(const std::string& shard, const char* name) {
  const hid_t file = H5Fopen(shard.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
  const haddr_t offset = H5Dget_offset(dataset);
  H5Dclose(dataset);
  H5Fclose(file);
  return offset;
}

std::vector<uint32_t> read_u32(const std::string& shard, const std::string& name) {
  const hid_t file = H5Fopen(shard.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  const hid_t space = H5Dget_space(dataset);
  std::vector<uint32_t> values(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
  H5Dread(dataset, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Sclose(space);
  H5Dclose(dataset);
  H5Fclose(file);
  return values;
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  const char byte = static_cast<char>(file.get());
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(static_cast<char>(byte ^ 0x40));
}

template <class Action>
std::string data_error(Action action) {
  try {
    action();
  } catch (const DataError& e) {
    EXPECT_FALSE(e.hint().empty());
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return {};
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

class ChunkChecksums : public ::testing::Test {
 protected:
  void SetUp() override {
    docs_ = synthetic_documents();
    manifest_ = write_dataset(dir_.path_string(), DatasetFormat::kSft, docs_, uint64_t{64} << 20);
    shard_ = dir_.file(manifest_.splits.at("train").shards.at(0).file);
  }

  TempDir dir_;
  std::vector<EncodedDocument> docs_;
  Manifest manifest_;
  std::string shard_;
};

TEST_F(ChunkChecksums, EveryArrayHasOneCrcPerMebibyteAndTheManifestItsDigest) {
  const std::vector<uint32_t> tokens = read_u32(shard_, "chunk_crc32c/tokens");
  ASSERT_EQ(tokens.size(), 3u);  // 2.5 MiB of uint16
  EXPECT_EQ(read_u32(shard_, "chunk_crc32c/loss_mask").size(), 2u);
  EXPECT_EQ(read_u32(shard_, "chunk_crc32c/doc_offsets").size(), 1u);
  // The first token chunk, read independently of nf's reader and hashed.
  std::vector<uint16_t> stored(kMiB / 2);
  const std::vector<TokenId> expected = concatenated_tokens(docs_);
  for (size_t i = 0; i < stored.size(); ++i) stored[i] = static_cast<uint16_t>(expected[i]);
  EXPECT_EQ(tokens[0], crc32c(stored.data(), kMiB));
  const ShardRecord& record = manifest_.splits.at("train").shards.at(0);
  EXPECT_EQ(record.chunk_crc32c.size(), 8u);
  EXPECT_EQ(read_manifest(dir_.path_string()).splits.at("train").shards.at(0).chunk_crc32c, record.chunk_crc32c);
  const TokenDataset dataset(dir_.path_string());
  EXPECT_TRUE(dataset.has_chunk_checksums());
  EXPECT_TRUE(verify_dataset(dir_.path_string()).ok());
}

TEST_F(ChunkChecksums, AFlippedTokenByteStopsTheReadsOfItsChunkOnly) {
  const uint64_t tokens = file_offset(shard_, "tokens");
  flip_byte(shard_, tokens + kMiB + 1000);         // in chunk 1: tokens 524288 .. 1048575
  const TokenDataset dataset(dir_.path_string());  // opening reads no tokens
  std::vector<TokenId> ids(4096);
  EXPECT_NO_THROW(dataset.copy_tokens(0, 4096, ids.data()));
  EXPECT_NO_THROW(dataset.copy_tokens(2 * kMiB / 2, 4096, ids.data()));  // chunk 2
  const std::string message = data_error([&] { dataset.copy_tokens(kMiB / 2 - 10, 20, ids.data()); });
  EXPECT_CONTAINS(message, "shard '" + shard_ + "' is damaged: /tokens chunk 1");
  EXPECT_CONTAINS(message, "bytes 1048576-2097151 of the array, file bytes " + std::to_string(tokens + kMiB) + "-");
  // Every later read of that chunk fails too, not just the first.
  EXPECT_CONTAINS(data_error([&] { dataset.copy_tokens(kMiB / 2 + 9000, 1, ids.data()); }), "/tokens chunk 1");

  // The loader: batches in stream order; sample k covers tokens [4096k, 4096k + 4097), so
  // sample 127 is the first to reach chunk 1 and batch 15 (samples 120-127) must never arrive.
  auto shared = std::make_shared<const TokenDataset>(dir_.path_string());
  LoaderOptions options;
  options.seq_len = 4096;
  options.global_batch_size = 8;
  options.shuffle = false;
  DataLoader loader(shared, options);
  for (int batch = 0; batch < 15; ++batch) EXPECT_NO_THROW(loader.next()) << batch;
  EXPECT_CONTAINS(data_error([&] { loader.next(); }), "/tokens chunk 1");

  const VerifyReport report = verify_dataset(dir_.path_string(), {false, true});
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_CONTAINS(report.problems[0], "/tokens chunk 1");
}

TEST_F(ChunkChecksums, AFlippedOffsetByteFailsTheOpen) {
  flip_byte(shard_, file_offset(shard_, "doc_offsets") + 8 * 100 + 1);  // document 100's start
  const std::string message = data_error([&] { TokenDataset dataset(dir_.path_string()); });
  EXPECT_CONTAINS(message, "shard '" + shard_ + "' is damaged: /doc_offsets chunk 0");
  EXPECT_CONTAINS(message, "crc32c");
}

TEST_F(ChunkChecksums, AFlippedMaskByteStopsTheReadsOfItsChunk) {
  flip_byte(shard_, file_offset(shard_, "loss_mask") + kMiB + 5);
  const TokenDataset dataset(dir_.path_string());
  std::vector<uint8_t> mask(4096);
  EXPECT_NO_THROW(dataset.copy_loss_mask(0, 4096, mask.data()));
  EXPECT_CONTAINS(data_error([&] { dataset.copy_loss_mask(kMiB, 16, mask.data()); }), "/loss_mask chunk 1");
}

TEST_F(ChunkChecksums, AShardOfAnotherBuildIsRefusedAtOpen) {
  // Same sizes and counts, one token different: only the checksums can tell them apart.
  TempDir other;
  const Manifest other_manifest =
      write_dataset(other.path_string(), DatasetFormat::kSft, synthetic_documents(1), uint64_t{64} << 20);
  fs::copy_file(other.file(other_manifest.splits.at("train").shards.at(0).file), shard_,
                fs::copy_options::overwrite_existing);
  const std::string message = data_error([&] { TokenDataset dataset(dir_.path_string()); });
  EXPECT_CONTAINS(message, "shard '" + shard_ + "' is not the shard the manifest lists");
  EXPECT_CONTAINS(message, manifest_.splits.at("train").shards.at(0).chunk_crc32c);
}

TEST_F(ChunkChecksums, DatasetsBuiltBeforeThemStillLoad) {
  TempDir old;
  fs::copy(dir_.path(), old.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  strip_chunk_checksums(old.path_string());
  const TokenDataset dataset(old.path_string());
  EXPECT_FALSE(dataset.has_chunk_checksums());
  std::vector<TokenId> ids(64);
  dataset.copy_tokens(kMiB, 64, ids.data());
  const std::vector<TokenId> expected = concatenated_tokens(docs_);
  EXPECT_TRUE(std::equal(ids.begin(), ids.end(), expected.begin() + kMiB));
  const VerifyReport report = verify_dataset(old.path_string());
  EXPECT_TRUE(report.ok());
  ASSERT_EQ(report.notes.size(), 1u);
  EXPECT_CONTAINS(report.notes[0], "1 shards were built before per-chunk checksums");

  // A shard without checksums where the manifest records them was swapped in from an old build.
  fs::copy_file(old.file(manifest_.splits.at("train").shards.at(0).file), shard_, fs::copy_options::overwrite_existing);
  EXPECT_CONTAINS(data_error([&] { TokenDataset dataset(dir_.path_string()); }), "has no chunk checksums");
}

TEST_F(ChunkChecksums, VerificationCanBeTurnedOffToMeasureIt) {
  flip_byte(shard_, file_offset(shard_, "tokens") + 2);  // token 1's low byte: still a valid id
  TokenDatasetOptions options;
  options.verify_chunks = false;
  const TokenDataset dataset(dir_.path_string(), options);
  std::vector<TokenId> ids(16);
  EXPECT_NO_THROW(dataset.copy_tokens(0, 16, ids.data()));
  EXPECT_EQ(ids[1], concatenated_tokens(docs_)[1] ^ 0x40);
}

}  // namespace
}  // namespace nf::data
