// Resharding arithmetic in one process: which rows of one tp split another split holds, the read
// plan (only the files holding a rank's tensors), shard and ZeRO piece metadata, the model check
// and the choice between loading files as saved and resharding.
#include <c10/util/accumulate.h>
#include <gtest/gtest.h>

#include <set>

#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/checkpoint_layout.h"
#include "nf/core/error.h"
#include "nf/parallel/tp/shard.h"

namespace nf::ckpt {
namespace {

using parallel::tp::ShardOverlap;
using parallel::tp::ShardSpec;
using Overlaps = std::vector<ShardOverlap>;

ShardSpec split(int64_t dim, int64_t full_size, int64_t index, int64_t count) {
  ShardSpec spec;
  spec.dim = dim;
  spec.index = index;
  spec.count = count;
  spec.full_size = full_size;
  spec.padded_full_size = parallel::tp::padded_size(full_size, count);
  return spec;
}

ShardSpec replicated(int64_t index, int64_t count) {
  ShardSpec spec;
  spec.index = index;
  spec.count = count;
  return spec;
}

TEST(ShardOverlaps, EvenSplits) {
  // One whole tensor of 8 rows from 2 shards of 4.
  EXPECT_EQ(parallel::tp::shard_overlaps(split(0, 8, 0, 1), 2), (Overlaps{{0, 0, 0, 4}, {1, 0, 4, 4}}));
  // Shard 1 of 2 (rows 4..7) from 4 shards of 2.
  EXPECT_EQ(parallel::tp::shard_overlaps(split(0, 8, 1, 2), 4), (Overlaps{{2, 0, 0, 2}, {3, 0, 2, 2}}));
  // Shard 3 of 4 (rows 6..7) from 2 shards: the second half of shard 1.
  EXPECT_EQ(parallel::tp::shard_overlaps(split(1, 8, 3, 4), 2), (Overlaps{{1, 2, 0, 2}}));
  // The same split: the shard itself.
  EXPECT_EQ(parallel::tp::shard_overlaps(split(0, 8, 1, 2), 2), (Overlaps{{1, 0, 0, 4}}));
}

TEST(ShardOverlaps, PaddedVocabulary) {
  // 10 rows over 4 ranks: padded to 12, shards of 3; over 3 ranks: padded to 12, shards of 4.
  // Target shard 1 of 4 holds rows 3..5: row 3 is the last of source 0, rows 4..5 the first of source 1.
  EXPECT_EQ(parallel::tp::shard_overlaps(split(0, 10, 1, 4), 3), (Overlaps{{0, 3, 0, 1}, {1, 0, 1, 2}}));
  // Target shard 3 of 4 holds row 9 and two padding rows, which nothing fills.
  EXPECT_EQ(parallel::tp::shard_overlaps(split(0, 10, 3, 4), 3), (Overlaps{{2, 1, 0, 1}}));
  // The whole tensor from 4 padded shards: 3 + 3 + 3 + 1 real rows.
  EXPECT_EQ(parallel::tp::shard_overlaps(split(0, 10, 0, 1), 4),
            (Overlaps{{0, 0, 0, 3}, {1, 0, 3, 3}, {2, 0, 6, 3}, {3, 0, 9, 1}}));
  EXPECT_THROW(parallel::tp::shard_overlaps(replicated(0, 2), 2), UsageError);
}

TEST(ShardOverlaps, EveryRowOnceForAnySplits) {
  for (int64_t full : {1, 7, 12, 13}) {
    for (int64_t target_count : {1, 2, 3, 4}) {
      for (int64_t source_count : {1, 2, 3, 4, 5}) {
        std::vector<int> filled(static_cast<size_t>(full), 0);
        for (int64_t index = 0; index < target_count; ++index) {
          const ShardSpec target = split(0, full, index, target_count);
          const int64_t source_size = parallel::tp::padded_size(full, source_count) / source_count;
          for (const ShardOverlap& o : parallel::tp::shard_overlaps(target, source_count)) {
            ASSERT_GT(o.size, 0);
            ASSERT_LE(o.source_offset + o.size, source_size);
            ASSERT_LE(o.target_offset + o.size, target.shard_size());
            for (int64_t row = 0; row < o.size; ++row) {
              const int64_t global = target.offset() + o.target_offset + row;
              ASSERT_EQ(global, o.source_index * source_size + o.source_offset + row);
              ++filled.at(static_cast<size_t>(global));
            }
          }
        }
        EXPECT_EQ(filled, std::vector<int>(static_cast<size_t>(full), 1))
            << full << " rows, " << target_count << " targets, " << source_count << " sources";
      }
    }
  }
}

// A checkpoint saved with tp 2, pp 2: stage 0 has the embedding (10 rows, padded) and layer 0,
// stage 1 layer 1 and the final norm.
std::vector<SavedTensor> saved_model() {
  return {{"model.embed_tokens.weight", 0, split(0, 10, 0, 2), {5, 4}},
          {"model.layers.0.self_attn.q_proj.weight", 0, split(0, 4, 0, 2), {2, 4}},
          {"model.layers.0.input_layernorm.weight", 0, replicated(0, 2), {4}},
          {"model.layers.1.self_attn.o_proj.weight", 1, split(1, 4, 0, 2), {4, 2}},
          {"model.norm.weight", 1, replicated(0, 2), {4}}};
}

std::set<std::pair<int64_t, int64_t>> files_of(const std::vector<ShardRead>& plan) {
  std::set<std::pair<int64_t, int64_t>> files;
  for (const ShardRead& read : plan) files.insert({read.tp, read.pp});
  return files;
}

TEST(ReshardPlan, ReadsOnlyTheStageAndSlicesItNeeds) {
  // A last stage holding layer 1 and the norm, tp shard 1 of 4: only (tp 1, pp 1) holds its rows.
  const std::vector<ParameterShard> last_stage = {{"model.layers.1.self_attn.o_proj.weight", {4, 4}, split(1, 4, 1, 4)},
                                                  {"model.norm.weight", {4}, replicated(1, 4)}};
  const std::vector<ShardRead> plan = plan_shard_reads(saved_model(), 2, last_stage, "ckpt");
  EXPECT_EQ(files_of(plan), (std::set<std::pair<int64_t, int64_t>>{{0, 1}}));
  ASSERT_EQ(plan[0].copies.size(), 2u);
  EXPECT_EQ(plan[0].copies[0].dim, 1);
  EXPECT_EQ(plan[0].copies[0].source_offset, 1);  // rows 1 of o_proj's columns 0..1
  EXPECT_EQ(plan[0].copies[0].size, 1);
  EXPECT_EQ(plan[0].copies[1].dim, -1);  // the norm, whole, from the same file

  // Shard 3 of 4 reads the second saved shard, norm included.
  const std::vector<ParameterShard> other = {{"model.layers.1.self_attn.o_proj.weight", {4, 4}, split(1, 4, 3, 4)},
                                             {"model.norm.weight", {4}, replicated(3, 4)}};
  EXPECT_EQ(files_of(plan_shard_reads(saved_model(), 2, other, "ckpt")),
            (std::set<std::pair<int64_t, int64_t>>{{1, 1}}));

  // One rank holding the whole first stage reads both tp files of stage 0 and nothing of stage 1.
  const std::vector<ParameterShard> first_stage = {
      {"model.embed_tokens.weight", {10, 4}, split(0, 10, 0, 1)},
      {"model.layers.0.self_attn.q_proj.weight", {4, 4}, split(0, 4, 0, 1)},
      {"model.layers.0.input_layernorm.weight", {4}, replicated(0, 1)}};
  const std::vector<ShardRead> whole = plan_shard_reads(saved_model(), 2, first_stage, "ckpt");
  EXPECT_EQ(files_of(whole), (std::set<std::pair<int64_t, int64_t>>{{0, 0}, {1, 0}}));
  ASSERT_EQ(whole[1].copies.size(), 2u);  // tp 1: the rows of the embedding and of q_proj, not the norm
  EXPECT_EQ(whole[1].copies[0].target_offset, 5);
  EXPECT_EQ(whole[1].copies[0].size, 5);
}

TEST(ReshardPlan, RefusesTensorsTheCheckpointDoesNotHaveOrSplitsOtherwise) {
  const auto message = [](const std::vector<ParameterShard>& targets) {
    try {
      plan_shard_reads(saved_model(), 2, targets, "runs/x/step_4");
    } catch (const CheckpointError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"lm_head.weight", {10, 4}, split(0, 10, 0, 1)}}).find("has no tensor 'lm_head.weight'"),
            std::string::npos);
  EXPECT_NE(message({{"model.embed_tokens.weight", {12, 4}, split(0, 12, 0, 1)}})
                .find("'model.embed_tokens.weight' has the full shape [10, 4] but the model's is [12, 4]"),
            std::string::npos);
  EXPECT_NE(message({{"model.norm.weight", {4}, split(0, 4, 0, 1)}}).find("split along dim -1"), std::string::npos);
}

TEST(ShardMetadata, RoundTripAndErrors) {
  const ShardSpec vocab = split(0, 10, 1, 4);
  EXPECT_EQ(shard_metadata(vocab), "0 1 4 10");
  const ShardSpec parsed = parse_shard_metadata("0 1 4 10", "f");
  EXPECT_EQ(parsed.padded_full_size, 12);
  EXPECT_EQ(parsed.shard_size(), 3);
  EXPECT_TRUE(parse_shard_metadata(shard_metadata(replicated(1, 2)), "f").replicated());
  for (const char* bad : {"0 1 4", "0 4 4 10", "a b c d", "0 1 4 10 5", "-2 0 1 3"}) {
    EXPECT_THROW(parse_shard_metadata(bad, "f"), CheckpointError) << bad;
  }
}

TEST(ZeroPieces, CoverEveryParameterOnceOverTheDpFiles) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"a", {4, 5}}, {"b", {7}}, {"c", {3, 3}}, {"e", {11}}};
  for (int dp : {1, 2, 3}) {
    const parallel::dp::FlatLayout layout(shapes, /*bucket_numel=*/16, dp);
    std::map<std::string, std::vector<int>> seen;
    for (const auto& [name, shape] : shapes) seen[name].assign(static_cast<size_t>(c10::multiply_integers(shape)), 0);
    for (int rank = 0; rank < dp; ++rank) {
      for (const auto& [name, piece] : parse_zero_pieces(zero_piece_metadata(layout, rank), "f")) {
        ASSERT_LE(piece.shard_offset + piece.numel, layout.shard_numel());
        for (int64_t i = 0; i < piece.numel; ++i) ++seen[name].at(static_cast<size_t>(piece.param_offset + i));
      }
    }
    for (const auto& [name, counts] : seen)
      EXPECT_EQ(counts, std::vector<int>(counts.size(), 1)) << name << " dp " << dp;
  }
  EXPECT_THROW(parse_zero_pieces({{"piece.a", "1 2"}}, "f"), CheckpointError);
  EXPECT_THROW(parse_zero_pieces({{"piece.a", "1 2 0"}}, "f"), CheckpointError);
  EXPECT_TRUE(parse_zero_pieces({{"format", "pt"}}, "f").empty());
}

TEST(CheckpointModel, DifferentShapesAreRefusedByKey) {
  model::ModelConfig saved;
  model::ModelConfig job = saved;
  job.max_seq_len *= 2;  // may change on resume
  job.init_std = 0.01;
  EXPECT_NO_THROW(check_same_model(saved, job, "step_4/config.yaml"));
  job.d_model = 256;
  try {
    check_same_model(saved, job, "step_4/config.yaml");
    FAIL() << "no error";
  } catch (const ModelMismatchError& e) {
    EXPECT_EQ(std::string(e.what()),
              "'step_4/config.yaml' was trained with model.d_model = 512 but this job has model.d_model = 256; a "
              "resumed run keeps the model");
    EXPECT_EQ(e.hint(), "set model.d_model as the checkpoint has it, or start a new run");
  }
  job = saved;
  job.tie_embeddings = true;
  EXPECT_THROW(check_same_model(saved, job, "x"), ModelMismatchError);
}

TEST(CheckpointLayout, LoadsAsSavedOnlyWhenTheFilesFit) {
  ModelLayout saved;
  saved.model.n_layers = 4;
  saved.parallel.zero = 2;
  CheckpointMeta meta;
  meta.tp = 2;
  meta.pp = 2;
  meta.dp = 2;
  meta.zero = 2;
  const auto shape = [](int64_t tp, int64_t pp, int64_t dp) {
    dist::ParallelConfig p;
    p.tp = tp;
    p.pp = pp;
    return dist::MeshShape::resolve(p, tp * pp * dp);
  };
  ModelLayout job = saved;
  EXPECT_TRUE(loads_as_saved(meta, saved, job, shape(2, 2, 2)));
  job.parallel.zero = 1;  // the same flat shards
  EXPECT_TRUE(loads_as_saved(meta, saved, job, shape(2, 2, 2)));
  EXPECT_FALSE(loads_as_saved(meta, saved, job, shape(2, 2, 1)));  // other shards
  EXPECT_FALSE(loads_as_saved(meta, saved, job, shape(1, 2, 2)));
  EXPECT_FALSE(loads_as_saved(meta, saved, job, shape(2, 1, 2)));
  job.parallel.bucket_mb = 1;
  EXPECT_FALSE(loads_as_saved(meta, saved, job, shape(2, 2, 2)));
  job = saved;
  job.parallel.pp_layers = {1, 3};
  EXPECT_FALSE(loads_as_saved(meta, saved, job, shape(2, 2, 2)));
  job.parallel.pp_layers = {2, 2};  // the balanced split, spelled out
  EXPECT_TRUE(loads_as_saved(meta, saved, job, shape(2, 2, 2)));
  job = saved;
  job.parallel.zero = 0;  // per-parameter state against flat shards
  EXPECT_FALSE(loads_as_saved(meta, saved, job, shape(2, 2, 2)));
  meta.zero = 0;
  EXPECT_TRUE(loads_as_saved(meta, saved, job, shape(2, 2, 4)));  // zero 0 files fit any dp
  EXPECT_EQ(layout_text(2, 1, 4, 1), "dp 2, tp 1, pp 4, zero 1");
}

}  // namespace
}  // namespace nf::ckpt
