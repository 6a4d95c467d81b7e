// Writer → reader round trips on real text: tokens, offsets, masks, DPO spans, metadata, shard
// rolling, uint32 token arrays, atomic naming, manifest JSON and the multi-rank merge.
#include <gtest/gtest.h>

#include <filesystem>

#include "data_fixture.h"
#include "nf/core/error.h"
#include "nf/core/hash.h"
#include "nf/data/shard_file.h"
#include "nf/data/token_dataset.h"

namespace nf::data {
namespace {

using namespace nf::data::testing;

std::vector<EncodedDocument> genesis_documents() {
  std::vector<EncodedDocument> docs;
  for (const std::string& verse : bible_verses("Gen1:1-Gen11:32")) docs.push_back(pretrain_document(verse));
  return docs;
}

TEST(ShardWriter, PretrainRoundTripAcrossRolledShards) {
  TempDir dir;
  const auto docs = genesis_documents();
  const Manifest manifest = write_dataset(dir.path_string(), DatasetFormat::kPretrain, docs, 16 << 10);
  const SplitRecord& train = manifest.split("train", dir.path_string());
  ASSERT_GT(train.shards.size(), 3u) << "a 16 KiB target must roll several shards";
  EXPECT_EQ(train.shards[0].file, "train-00000.h5");
  EXPECT_EQ(train.documents, docs.size());

  const TokenDataset dataset(dir.path_string());
  const std::vector<TokenId> expected = concatenated_tokens(docs);
  ASSERT_EQ(dataset.num_tokens(), expected.size());
  std::vector<TokenId> actual(expected.size());
  dataset.copy_tokens(0, actual.size(), actual.data());
  EXPECT_EQ(actual, expected);
  // A range that crosses a shard boundary.
  const uint64_t boundary = train.shards[0].tokens;
  std::vector<TokenId> window(100);
  dataset.copy_tokens(boundary - 50, 100, window.data());
  EXPECT_TRUE(std::equal(window.begin(), window.end(), expected.begin() + boundary - 50));

  uint64_t token = 0;
  std::vector<int64_t> expected_ids;  // the document of every token
  for (uint64_t doc = 0; doc < docs.size(); ++doc) {
    const auto ref = dataset.document(doc);
    ASSERT_EQ(ref.begin, token);
    ASSERT_EQ(ref.length, docs[doc].tokens.size());
    token += ref.length;
    expected_ids.insert(expected_ids.end(), ref.length, static_cast<int64_t>(doc));
  }
  // Document ids (training.document_mask) of the whole stream, and of a range across a shard boundary.
  std::vector<int64_t> ids_of_all(expected_ids.size());
  dataset.copy_document_ids(0, ids_of_all.size(), ids_of_all.data());
  EXPECT_EQ(ids_of_all, expected_ids);
  std::vector<int64_t> ids_of_window(100);
  dataset.copy_document_ids(boundary - 50, 100, ids_of_window.data());
  EXPECT_TRUE(std::equal(ids_of_window.begin(), ids_of_window.end(), expected_ids.begin() + boundary - 50));
  EXPECT_THROW(dataset.copy_document_ids(dataset.num_tokens() - 1, 2, ids_of_window.data()), Error);
  for (const ShardFile& shard : dataset.shards()) {
    EXPECT_TRUE(shard.memory_mapped()) << shard.path();
    EXPECT_EQ(shard.dtype(), TokenDtype::kUint16);
    EXPECT_EQ(shard.split(), "train");
  }
  const ShardFile& first = dataset.shards()[0];
  const auto ids = first.metadata("id");
  ASSERT_EQ(ids.size(), first.num_documents());
  EXPECT_EQ(ids[0], "Ge1:1");
  EXPECT_TRUE(first.metadata("scene").empty());
}

TEST(ShardWriter, LeavesOnlyFinishedFilesAndChecksumsMatch) {
  TempDir dir;
  const Manifest manifest = write_dataset(dir.path_string(), DatasetFormat::kPretrain, genesis_documents(), 32 << 10);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path_string())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
  for (const ShardRecord& shard : manifest.split("train", dir.path_string()).shards) {
    EXPECT_EQ(sha256_file(dir.file(shard.file)), shard.sha256);
  }
}

TEST(ShardWriter, UnclosedWriterWritesNothing) {
  TempDir dir;
  {
    ShardWriter writer({dir.path_string(), "train", "", DatasetFormat::kPretrain, kByteVocab, kFingerprint, 1 << 20});
    writer.add(pretrain_document("In the beginning"));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path_string()));
}

TEST(ShardWriter, LargeVocabularyUsesUint32) {
  TempDir dir;
  ShardWriter writer({dir.path_string(), "train", "", DatasetFormat::kPretrain, 100000, "fp", 1 << 20});
  EncodedDocument doc;
  doc.tokens = {0, 65535, 65536, 99999};
  writer.add(doc);
  const auto records = writer.close();
  const ShardFile shard(dir.file(records.at(0).file));
  EXPECT_EQ(shard.dtype(), TokenDtype::kUint32);
  std::vector<TokenId> ids(4);
  shard.copy_tokens(0, 4, ids.data());
  EXPECT_EQ(ids, doc.tokens);
}

TEST(ShardWriter, SftMaskAndChineseText) {
  TempDir dir;
  std::vector<EncodedDocument> docs;
  const auto poems = tang_poems();
  ASSERT_GT(poems.size(), 100u);
  for (size_t i = 0; i + 1 < poems.size(); i += 2) docs.push_back(sft_document(poems[i], poems[i + 1]));
  write_dataset(dir.path_string(), DatasetFormat::kSft, docs);
  const TokenDataset dataset(dir.path_string());
  std::vector<uint8_t> expected_mask;
  for (const auto& doc : docs) expected_mask.insert(expected_mask.end(), doc.loss_mask.begin(), doc.loss_mask.end());
  std::vector<uint8_t> mask(expected_mask.size());
  dataset.copy_loss_mask(0, mask.size(), mask.data());
  EXPECT_EQ(mask, expected_mask);
  std::vector<TokenId> tokens(dataset.num_tokens());
  dataset.copy_tokens(0, tokens.size(), tokens.data());
  EXPECT_EQ(tokens, concatenated_tokens(docs));
}

TEST(ShardWriter, DpoSpansAndMetadata) {
  TempDir dir;
  const auto verses = bible_verses("Ps1:1-Ps5:12");
  std::vector<EncodedDocument> docs;
  for (size_t i = 0; i + 2 < verses.size(); i += 3)
    docs.push_back(dpo_document(verses[i], verses[i + 1], verses[i + 2]));
  write_dataset(dir.path_string(), DatasetFormat::kDpo, docs);
  const TokenDataset dataset(dir.path_string());
  ASSERT_EQ(dataset.num_documents(), docs.size());
  for (uint64_t i = 0; i < docs.size(); ++i) {
    const auto ref = dataset.document(i);
    EXPECT_EQ(ref.dpo.prompt, docs[i].dpo->prompt);
    EXPECT_EQ(ref.dpo.chosen, docs[i].dpo->chosen);
    EXPECT_EQ(ref.dpo.rejected, docs[i].dpo->rejected);
  }
  EXPECT_EQ(dataset.shards()[0].metadata("emotion").at(0), docs[0].metadata.at("emotion"));
}

TEST(Manifest, JsonRoundTripAndMergeOfRankShardLists) {
  Manifest manifest;
  manifest.format = DatasetFormat::kSft;
  manifest.tokenizer = {"sentencepiece", "tokenizer.model", "abc", 32000};
  manifest.seed = 99;
  RankShards rank1{1,
                   {{"train", {{"train-r001-00000.h5", 10, 2, "s1", "0a1b2c3d"}}},
                    {"val", {{"val-r001-00000.h5", 3, 1, "v1", ""}}}}};
  RankShards rank0{0, {{"train", {{"train-r000-00000.h5", 5, 1, "s0", ""}, {"train-r000-00001.h5", 6, 1, "s0b", ""}}}}};
  // As rank 0 would receive them over MPI: JSON text, in any order.
  merge_rank_shards(
      manifest, {rank_shards_from_json(rank_shards_to_json(rank1)), rank_shards_from_json(rank_shards_to_json(rank0))});
  const SplitRecord& train = manifest.splits.at("train");
  ASSERT_EQ(train.shards.size(), 3u);
  EXPECT_EQ(train.shards[0].file, "train-r000-00000.h5");
  EXPECT_EQ(train.shards[2].file, "train-r001-00000.h5");
  EXPECT_EQ(train.shards[2].chunk_crc32c, "0a1b2c3d");
  EXPECT_EQ(train.shards[0].chunk_crc32c, "");
  EXPECT_EQ(train.tokens, 21u);
  EXPECT_EQ(train.documents, 4u);
  EXPECT_EQ(manifest.splits.at("val").tokens, 3u);

  const Manifest back = manifest_from_json(manifest_to_json(manifest), "test");
  EXPECT_EQ(manifest_to_json(back), manifest_to_json(manifest));
  EXPECT_EQ(manifest_to_json(back)["token_dtype"], "uint16");

  Manifest twice;
  EXPECT_THROW(merge_rank_shards(twice, {rank0, rank0}), nf::DataError);
}

}  // namespace
}  // namespace nf::data
