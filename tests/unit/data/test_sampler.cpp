// The global sample order and the loader: the permutation is a bijection and a pure function
// of (samples, seed, epoch); batches do not depend on the DP size; a resume with another DP size
// sees exactly the samples of an uninterrupted run; epochs roll over; prefetch changes nothing;
// packed windows, shifted masks and DPO pairs hold the right tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data_fixture.h"
#include "nf/core/error.h"
#include "nf/data/data_loader.h"

namespace nf::data {
namespace {

// Loader options of packed rows of `seq_len` tokens (all samples_per_epoch reads of them).
LoaderOptions packed_rows(int64_t seq_len) {
  LoaderOptions options;
  options.seq_len = seq_len;
  return options;
}

using namespace nf::data::testing;

TEST(SamplePermutation, IsABijectionAndDependsOnSeedAndEpoch) {
  for (uint64_t size : {1ull, 2ull, 3ull, 17ull, 1000ull, 4097ull}) {
    const SamplePermutation permutation(size, 42, 0);
    std::vector<uint64_t> values;
    for (uint64_t i = 0; i < size; ++i) values.push_back(permutation(i));
    std::sort(values.begin(), values.end());
    for (uint64_t i = 0; i < size; ++i) ASSERT_EQ(values[i], i) << "size " << size;
  }
  const SamplePermutation a(1000, 42, 0), b(1000, 42, 0), other_seed(1000, 43, 0), other_epoch(1000, 42, 1);
  uint64_t same = 0, moved_seed = 0, moved_epoch = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    same += a(i) == b(i);
    moved_seed += a(i) != other_seed(i);
    moved_epoch += a(i) != other_epoch(i);
  }
  EXPECT_EQ(same, 1000u);
  EXPECT_GT(moved_seed, 900u);
  EXPECT_GT(moved_epoch, 900u);
  // Pinned values: the order must never change between builds, compilers or machines.
  const SamplePermutation pinned(1000, 1234, 0);
  EXPECT_EQ((std::vector<uint64_t>{pinned(0), pinned(1), pinned(2), pinned(3), pinned(4)}),
            (std::vector<uint64_t>{982, 194, 785, 5, 267}));
  EXPECT_EQ(SamplePermutation(1000, 1234, 1)(0), 174u);
  const SamplePermutation identity(10, 1, 0, false);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(identity(i), i);
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<EncodedDocument> docs;
    for (const std::string& verse : bible_verses("Ruth1:1-Ruth4:22")) docs.push_back(pretrain_document(verse));
    expected_ = concatenated_tokens(docs);
    write_dataset(dir_.path_string(), DatasetFormat::kPretrain, docs, 8 << 10);
    dataset_ = std::make_shared<const TokenDataset>(dir_.path_string());
  }

  LoaderOptions options(int dp_rank, int dp_size, size_t prefetch = 0) const {
    LoaderOptions o;
    o.seq_len = 64;
    o.global_batch_size = 8;
    o.dp_rank = dp_rank;
    o.dp_size = dp_size;
    o.seed = 5;
    o.prefetch_batches = prefetch;
    return o;
  }

  // The samples of `steps` global batches as DP ranks 0..dp_size-1 see them, starting at `state`
  // (or the beginning); returns the state after the last step.
  LoaderState run(int dp_size, int steps, const LoaderState* state, std::vector<uint64_t>& seen) const {
    std::vector<std::unique_ptr<DataLoader>> ranks;
    for (int r = 0; r < dp_size; ++r)
      ranks.push_back(std::make_unique<DataLoader>(dataset_, options(r, dp_size, 2), state));
    for (int step = 0; step < steps; ++step) {
      for (auto& rank : ranks) {
        const Batch batch = rank->next();
        seen.insert(seen.end(), batch.sample_ids.begin(), batch.sample_ids.end());
      }
    }
    const LoaderState after = ranks[0]->state();
    for (auto& rank : ranks) EXPECT_EQ(rank->state().consumed_samples, after.consumed_samples);
    return after;
  }

  TempDir dir_;
  std::vector<TokenId> expected_;
  std::shared_ptr<const TokenDataset> dataset_;
};

TEST_F(LoaderTest, PackedWindowsHoldTheStreamShiftedByOne) {
  const Batch batch = make_batch(*dataset_, options(0, 1), 0);
  ASSERT_EQ(batch.rows, 8);
  for (int64_t row = 0; row < batch.rows; ++row) {
    const uint64_t start = batch.sample_ids[row] * 64;
    for (int64_t j = 0; j < 64; ++j) {
      ASSERT_EQ(batch.inputs[row * 64 + j], expected_[start + j]);
      ASSERT_EQ(batch.targets[row * 64 + j], expected_[start + j + 1]);
      ASSERT_EQ(batch.loss_mask[row * 64 + j], 1);
    }
  }
  EXPECT_EQ(samples_per_epoch(*dataset_, packed_rows(64)), (expected_.size() - 1) / 64);
}

TEST_F(LoaderTest, GlobalBatchDoesNotDependOnDpSize) {
  for (uint64_t position : {0ull, 8ull, 800ull}) {
    const Batch whole = make_batch(*dataset_, options(0, 1), position);
    for (int dp_size : {2, 4, 8}) {
      std::vector<uint64_t> ids;
      std::vector<TokenId> inputs;
      for (int r = 0; r < dp_size; ++r) {
        const Batch part = make_batch(*dataset_, options(r, dp_size), position);
        ids.insert(ids.end(), part.sample_ids.begin(), part.sample_ids.end());
        inputs.insert(inputs.end(), part.inputs.begin(), part.inputs.end());
      }
      EXPECT_EQ(ids, whole.sample_ids) << "dp " << dp_size;
      EXPECT_EQ(inputs, whole.inputs) << "dp " << dp_size;
    }
  }
  EXPECT_THROW(make_batch(*dataset_, options(0, 3), 0), UsageError);
}

TEST_F(LoaderTest, ResumeWithAnotherDpSizeSeesExactlyTheUninterruptedSamples) {
  const uint64_t per_epoch = samples_per_epoch(*dataset_, packed_rows(64));
  const int steps = static_cast<int>(2 * per_epoch / 8 + 3);  // past two epoch rollovers
  std::vector<uint64_t> uninterrupted;
  run(1, steps, nullptr, uninterrupted);

  std::vector<uint64_t> resumed;
  const LoaderState first = run(2, 7, nullptr, resumed);
  // Through JSON, as a checkpoint stores it.
  const LoaderState saved = loader_state_from_json(loader_state_to_json(first), "test checkpoint");
  EXPECT_EQ(saved.consumed_samples, 56u);
  const LoaderState second = run(4, steps / 2 - 7, &saved, resumed);
  run(8, steps - steps / 2, &second, resumed);
  EXPECT_EQ(resumed, uninterrupted);  // the same samples, in the same global order

  // Every sample once per epoch.
  std::vector<uint64_t> epoch0(uninterrupted.begin(), uninterrupted.begin() + per_epoch);
  std::sort(epoch0.begin(), epoch0.end());
  for (uint64_t i = 0; i < per_epoch; ++i) ASSERT_EQ(epoch0[i], i);
  const std::vector<uint64_t> epoch1(uninterrupted.begin() + per_epoch, uninterrupted.begin() + 2 * per_epoch);
  EXPECT_NE(std::vector<uint64_t>(uninterrupted.begin(), uninterrupted.begin() + per_epoch), epoch1);
}

// Found by fuzz_checkpoint_meta: a float such as 1e300 was converted out of range (undefined behaviour).
TEST(LoaderState, FromJsonNeedsEveryKeyAsAnInteger) {
  const nlohmann::json good = loader_state_to_json(LoaderState{56, 1000, 64, 7});
  EXPECT_EQ(loader_state_from_json(good, "step_7/meta.json").consumed_samples, 56u);
  for (const char* key : {"consumed_samples", "num_samples", "seq_len", "seed"}) {
    nlohmann::json bad = good;
    bad[key] = 1e300;
    EXPECT_THROW(loader_state_from_json(bad, "step_7/meta.json"), DataError) << key;
    bad.erase(key);
    EXPECT_THROW(loader_state_from_json(bad, "step_7/meta.json"), DataError) << key;
  }
}

TEST_F(LoaderTest, PrefetchGivesTheSameBatchesAndStateCountsOnlyHandedOut) {
  DataLoader plain(dataset_, options(1, 2, 0));
  DataLoader prefetched(dataset_, options(1, 2, 3));
  for (int step = 0; step < 20; ++step) {
    const Batch a = plain.next();
    const Batch b = prefetched.next();
    ASSERT_EQ(a.inputs, b.inputs);
    ASSERT_EQ(a.targets, b.targets);
  }
  EXPECT_EQ(prefetched.state().consumed_samples, 160u);
  EXPECT_EQ(prefetched.state().epoch(), 160u / prefetched.num_samples());
}

TEST_F(LoaderTest, ResumeOnAnotherSeqLenOrSeedIsRefused) {
  LoaderState state{16, samples_per_epoch(*dataset_, packed_rows(64)), 64, 6};
  try {
    DataLoader loader(dataset_, options(0, 1), &state);
    FAIL() << "a resume with another seed must throw";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("seed 6"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("training.seed"), std::string::npos);
  }
}

TEST(Loader, SftMaskIsShiftedLikeTheTargets) {
  TempDir dir;
  std::vector<EncodedDocument> docs;
  const auto verses = bible_verses("Jonah1:1-Jonah4:11");
  for (size_t i = 0; i + 1 < verses.size(); i += 2) docs.push_back(sft_document(verses[i], verses[i + 1]));
  write_dataset(dir.path_string(), DatasetFormat::kSft, docs);
  std::vector<uint8_t> mask;
  for (const auto& doc : docs) mask.insert(mask.end(), doc.loss_mask.begin(), doc.loss_mask.end());
  const TokenDataset dataset(dir.path_string());
  LoaderOptions options;
  options.seq_len = 32;
  options.global_batch_size = 4;
  const Batch batch = make_batch(dataset, options, 12);
  for (int64_t row = 0; row < batch.rows; ++row) {
    for (int64_t j = 0; j < 32; ++j) {
      ASSERT_EQ(batch.loss_mask[row * 32 + j], mask[batch.sample_ids[row] * 32 + j + 1]);
    }
  }
}

TEST(Loader, DpoPairsArePromptPlusResponseWithMaskedPrompt) {
  TempDir dir;
  std::vector<EncodedDocument> docs;
  const auto verses = bible_verses("Prov1:1-Prov3:35");
  for (size_t i = 0; i + 2 < verses.size(); i += 3)
    docs.push_back(dpo_document(verses[i], verses[i + 1], verses[i + 2]));
  write_dataset(dir.path_string(), DatasetFormat::kDpo, docs);
  const TokenDataset dataset(dir.path_string());
  LoaderOptions options;
  options.seq_len = 160;
  options.global_batch_size = 4;
  options.pad_id = 259;
  const Batch batch = make_batch(dataset, options, 0);
  ASSERT_EQ(batch.rows, 8);
  ASSERT_EQ(batch.sample_ids.size(), 4u);
  const size_t T = 160;
  for (size_t k = 0; k < 4; ++k) {
    const EncodedDocument& doc = docs[batch.sample_ids[k]];
    const DpoSpans spans = *doc.dpo;
    for (bool chosen : {true, false}) {
      std::vector<TokenId> sequence(doc.tokens.begin(), doc.tokens.begin() + spans.prompt);
      const auto response = doc.tokens.begin() + spans.prompt + (chosen ? 0 : spans.chosen);
      sequence.insert(sequence.end(), response, response + (chosen ? spans.chosen : spans.rejected));
      const size_t used = std::min(sequence.size(), T + 1);
      sequence.resize(T + 1, 259);
      const size_t row = (chosen ? k : k + 4) * T;
      for (size_t j = 0; j < T; ++j) {
        ASSERT_EQ(batch.inputs[row + j], sequence[j]) << k << " " << j;
        ASSERT_EQ(batch.targets[row + j], sequence[j + 1]);
        ASSERT_EQ(batch.loss_mask[row + j], (j + 1 >= spans.prompt && j + 1 < used) ? 1 : 0) << k << " " << j;
      }
    }
  }
}

}  // namespace
}  // namespace nf::data
