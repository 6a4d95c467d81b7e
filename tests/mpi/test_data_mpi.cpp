// The dataset across real ranks: a multi-rank build (every rank writes its own shards, rank 0
// gathers the shard lists as JSON, merges them and writes the manifest), then a DP loader on
// every rank whose slices, put together, are the one-rank loader's global batches.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "../unit/data/data_fixture.h"
#include "nf/data/data_loader.h"

namespace nf::data {
namespace {

using namespace nf::data::testing;

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// Rank 0's string on every rank.
std::string broadcast(std::string text) {
  int length = static_cast<int>(text.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, MPI_COMM_WORLD);
  text.resize(length);
  MPI_Bcast(text.data(), length, MPI_CHAR, 0, MPI_COMM_WORLD);
  return text;
}

// Every rank's string, on rank 0 (empty elsewhere). This is what nf-shard build does with
// rank_shards_to_json before merge_rank_shards.
std::vector<std::string> gather(const std::string& text) {
  const int size = world_size();
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(size), displacements(size);
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size; ++r) {
    displacements[r] = total;
    total += lengths[r];
  }
  std::string all(world_rank() == 0 ? total : 0, '\0');
  MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), displacements.data(), MPI_CHAR, 0,
              MPI_COMM_WORLD);
  std::vector<std::string> parts;
  if (world_rank() == 0) {
    for (int r = 0; r < size; ++r) parts.push_back(all.substr(displacements[r], lengths[r]));
  }
  return parts;
}

class MultiRankDataset : public ::testing::Test {
 protected:
  void SetUp() override {
    if (world_rank() == 0) temp_ = std::make_unique<TempDir>();
    dir_ = broadcast(temp_ ? temp_->path_string() : "");
    verses_ = bible_verses("Esth1:1-Esth10:3");
    // The input split of a multi-rank build: rank r takes a contiguous block of documents.
    const size_t per_rank = (verses_.size() + world_size() - 1) / world_size();
    const size_t begin = std::min(verses_.size(), per_rank * world_rank());
    const size_t end = std::min(verses_.size(), begin + per_rank);
    char stem[32];
    std::snprintf(stem, sizeof(stem), "train-r%03d", world_rank());
    ShardWriter writer({dir_, "train", stem, DatasetFormat::kPretrain, kByteVocab, kFingerprint, 8 << 10});
    for (size_t i = begin; i < end; ++i) writer.add(pretrain_document(verses_[i]));
    RankShards mine{world_rank(), {{"train", writer.close()}}};
    const std::vector<std::string> lists = gather(rank_shards_to_json(mine));
    if (world_rank() == 0) {
      Manifest manifest;
      manifest.tokenizer = {"bpe", "tokenizer.json", kFingerprint, kByteVocab};
      std::vector<RankShards> ranks;
      for (const std::string& text : lists) ranks.push_back(rank_shards_from_json(text));
      merge_rank_shards(manifest, ranks);
      write_manifest(dir_, manifest);  // last: only now is the dataset complete
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }

  void TearDown() override {
    MPI_Barrier(MPI_COMM_WORLD);  // nobody still reads when rank 0 removes the directory
    temp_.reset();
  }

  std::unique_ptr<TempDir> temp_;
  std::string dir_;
  std::vector<std::string> verses_;
};

TEST_F(MultiRankDataset, MergedManifestKeepsTheInputOrder) {
  const TokenDataset dataset(dir_);
  ASSERT_EQ(dataset.num_documents(), verses_.size());
  std::vector<EncodedDocument> docs;
  for (const std::string& verse : verses_) docs.push_back(pretrain_document(verse));
  std::vector<TokenId> tokens(dataset.num_tokens());
  dataset.copy_tokens(0, tokens.size(), tokens.data());
  EXPECT_EQ(tokens, concatenated_tokens(docs));
  EXPECT_EQ(dataset.shards().front().path(), dir_ + "/train-r000-00000.h5");
}

TEST_F(MultiRankDataset, DpSlicesOfRealRanksMakeTheOneRankBatches) {
  auto dataset = std::make_shared<const TokenDataset>(dir_);
  LoaderOptions options;
  options.seq_len = 48;
  options.global_batch_size = 4 * world_size();
  options.dp_rank = world_rank();
  options.dp_size = world_size();
  DataLoader loader(dataset, options);
  LoaderOptions alone = options;
  alone.dp_rank = 0;
  alone.dp_size = 1;
  DataLoader reference(dataset, alone);
  for (int step = 0; step < 25; ++step) {
    const Batch batch = loader.next();
    std::string ids(reinterpret_cast<const char*>(batch.sample_ids.data()), batch.sample_ids.size() * 8);
    const std::vector<std::string> parts = gather(ids);
    const Batch whole = reference.next();
    if (world_rank() == 0) {
      std::string joined;
      for (const std::string& part : parts) joined += part;
      ASSERT_EQ(joined.size(), whole.sample_ids.size() * 8);
      EXPECT_EQ(std::memcmp(joined.data(), whole.sample_ids.data(), joined.size()), 0) << "step " << step;
    }
  }
  EXPECT_EQ(loader.state().consumed_samples, reference.state().consumed_samples);
}

}  // namespace
}  // namespace nf::data
