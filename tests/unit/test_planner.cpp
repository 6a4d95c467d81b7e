// The memory and step-time planner (planner.h, docs/memory.md), without tensors: parameters split
// over pipeline stages and tp shards add up to the model; ZeRO, recomputation and the pipeline
// schedule move memory the way nf does; sizes parse; the layout search and the fit check answer
// with layouts and keys that fit; --dry-run.json holds what the text shows.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nf/core/error.h"
#include "nf/core/filesystem.h"
#include "nf/model/model_config.h"
#include "nf/train/planner.h"

namespace nf::train {
namespace {

// 8 layers of d_model 64 (4 heads, MLP 192), a 256-token vocabulary: every term of the model counts.
TrainConfig small_config() {
  TrainConfig c;
  c.model.vocab_size = 256;
  c.model.d_model = 64;
  c.model.n_layers = 8;
  c.model.n_heads = 4;
  c.model.max_seq_len = 128;
  c.training.seq_len = 64;
  c.training.micro_batch_size = 2;
  c.training.global_batch_size = 16;
  return c;
}

TrainConfig with_layout(TrainConfig c, int64_t tp, int64_t pp, int64_t dp) {
  c.parallel.tp = tp;
  c.parallel.pp = pp;
  c.parallel.dp = dp;
  return c;
}

int64_t stage_sum(const Plan& plan) {
  int64_t sum = 0;
  for (const StageMemory& stage : plan.stages) sum += stage.parameter_elements;
  return sum;
}

TEST(Planner, ParametersOfEveryStageAndShardAddUpToTheModel) {
  for (const bool tied : {false, true}) {
    TrainConfig c = small_config();
    c.model.tie_embeddings = tied;
    const int64_t total = model::count_parameters(c.model);
    const int64_t norms = (2 * c.model.n_layers + 1) * c.model.d_model;  // replicated on every tp rank
    for (const int64_t pp : {1, 2, 4}) {
      const Plan plan = make_plan(with_layout(c, 1, pp, 1), pp);
      ASSERT_EQ(plan.stages.size(), static_cast<size_t>(pp));
      EXPECT_EQ(stage_sum(plan), total) << "pp " << pp << " tied " << tied;
      // With tied embeddings the last stage holds the embedding's copy, but not as a parameter.
      const int64_t copy = tied && pp > 1 ? c.model.vocab_size * c.model.d_model : 0;
      EXPECT_EQ(plan.stages.back().buffer_elements, copy);
      const Plan split = make_plan(with_layout(c, 2, pp, 1), 2 * pp);
      EXPECT_EQ(2 * stage_sum(split), total + norms) << "tp 2, pp " << pp << " tied " << tied;
    }
  }
}

TEST(Planner, StagesNameTheirRanksAndLayers) {
  const Plan plan = make_plan(with_layout(small_config(), 2, 2, 2), 8);
  ASSERT_EQ(plan.stages.size(), 2u);
  EXPECT_EQ(plan.stages[0].first_rank, 0);
  EXPECT_EQ(plan.stages[0].last_rank, 3);
  EXPECT_EQ(plan.stages[1].first_rank, 4);
  EXPECT_EQ(plan.stages[1].last_rank, 7);
  EXPECT_EQ(plan.stages[1].first_layer, 4);
  EXPECT_EQ(plan.stages[1].n_layers, 4);
  EXPECT_EQ(predicted_peak_bytes(with_layout(small_config(), 2, 2, 2), 8, 1), plan.stages[1].total());
  EXPECT_THROW(predicted_peak_bytes(with_layout(small_config(), 2, 2, 2), 8, 2), UsageError);
}

TEST(Planner, HigherZeroStagesHoldLessState) {
  const auto states = [](int64_t zero) {
    TrainConfig c = with_layout(small_config(), 1, 1, 4);
    c.parallel.zero = zero;
    const StageMemory s = make_plan(c, 4).stages[0];
    return s.parameters + s.optimizer + s.master;
  };
  EXPECT_GT(states(0), states(1));
  EXPECT_GT(states(1), states(3));
  EXPECT_LT(static_cast<double>(states(3)), 0.4 * static_cast<double>(states(0)));
  // ZeRO 2 keeps ZeRO 1's state and adds the reduce-scattered gradient shard.
  TrainConfig zero1 = with_layout(small_config(), 1, 1, 4), zero2 = zero1;
  zero1.parallel.zero = 1;
  zero2.parallel.zero = 2;
  EXPECT_GT(make_plan(zero2, 4).stages[0].gradients, make_plan(zero1, 4).stages[0].gradients);
}

uint64_t activations(model::RecomputeMode mode, int64_t interval = 1, int64_t kv_heads = 0) {
  TrainConfig c = small_config();
  c.model.n_kv_heads = kv_heads;
  c.training.recompute = mode;
  c.training.recompute_interval = interval;
  return make_plan(c, 1).stages[0].activations;
}

TEST(Planner, RecomputationKeepsFewerActivations) {
  using model::RecomputeMode;
  const uint64_t none = activations(RecomputeMode::kNone), full = activations(RecomputeMode::kFull);
  EXPECT_GE(none, 3 * full);
  EXPECT_LT(activations(RecomputeMode::kSelective), none);
  const uint64_t every_other = activations(RecomputeMode::kFull, 2);
  EXPECT_GT(every_other, full);
  EXPECT_LT(every_other, none);
  // Under GQA the core's repeat_kv copies go too.
  EXPECT_LT(activations(RecomputeMode::kSelective, 1, 2), activations(RecomputeMode::kNone, 1, 2));
}

TEST(Planner, OneFOneBHoldsMoreOnEarlierStagesAndGPipeHoldsEverything) {
  TrainConfig c = with_layout(small_config(), 1, 2, 1);  // 8 micro-batches
  const Plan one_f_one_b = make_plan(c, 2);
  EXPECT_EQ(one_f_one_b.micro_batches, 8);
  EXPECT_EQ(one_f_one_b.stages[0].in_flight, 2);
  EXPECT_EQ(one_f_one_b.stages[1].in_flight, 1);
  EXPECT_GT(one_f_one_b.stages[0].activations, one_f_one_b.stages[1].activations);
  c.parallel.pp_schedule = dist::PipelineSchedule::kGPipe;
  const Plan gpipe = make_plan(c, 2);
  for (size_t s = 0; s < 2; ++s) {
    EXPECT_EQ(gpipe.stages[s].in_flight, 8);
    EXPECT_GE(gpipe.stages[s].activations, one_f_one_b.stages[s].activations);
  }
  EXPECT_GT(one_f_one_b.stages[0].comm_buffers, 0u);  // p2p send and receive
}

TEST(Planner, DpoCountsPairsAndTheReference) {
  TrainConfig c = small_config();
  const StageMemory pretrain = make_plan(c, 1).stages[0];
  c.training.objective = "dpo";
  const Plan dpo = make_plan(c, 1);
  EXPECT_EQ(dpo.rows_per_micro_batch, 2 * c.training.micro_batch_size);
  EXPECT_EQ(dpo.stages[0].parameters, 2 * pretrain.parameters);
  EXPECT_GT(dpo.stages[0].activations, pretrain.activations);
}

TEST(Planner, LoraTrainsOnlyItsAdapters) {
  TrainConfig c = small_config();
  const StageMemory full = make_plan(c, 1).stages[0];
  c.model.lora.rank = 4;
  const StageMemory lora = make_plan(c, 1).stages[0];
  // Adapters on the 7 projections of 8 layers: (in + out) · rank each.
  const int64_t d = 64, f = c.model.ffn_dim(), r = 4;
  const int64_t adapters = 8 * r * (4 * (d + d) + 2 * (d + f) + (f + d));
  EXPECT_EQ(lora.trainable_elements, adapters);
  EXPECT_EQ(lora.parameter_elements, full.parameter_elements + adapters);
  EXPECT_EQ(lora.gradients, static_cast<uint64_t>(adapters) * 4);
  EXPECT_EQ(lora.optimizer, static_cast<uint64_t>(adapters) * 4 * 2);  // AdamW's two moments, fp32
  EXPECT_LT(lora.total(), full.total());
  // DPO's reference is the base itself: no second copy.
  c.training.objective = "dpo";
  EXPECT_EQ(make_plan(c, 1).stages[0].parameters, lora.parameters);
  // Under tp the adapters split with their projections: together the shards hold them once, plus the
  // whole factors every rank keeps (column A: rank × in; row B: out × rank).
  const Plan split = make_plan(with_layout(c, 2, 1, 1), 2);
  const int64_t whole = 8 * r * (4 * d + 2 * d + d);
  EXPECT_EQ(2 * split.stages[0].trainable_elements, adapters + whole);
}

TEST(Planner, StepTimeSplitsByWhatEachAxisMoves) {
  const Plan single = make_plan(small_config(), 1);
  EXPECT_GT(single.step.compute_s, 0);
  EXPECT_EQ(single.step.dp_comm_s + single.step.tp_comm_s + single.step.pp_comm_s + single.step.bubble_s, 0.0);
  EXPECT_TRUE(single.peak_assumed);
  EXPECT_DOUBLE_EQ(single.peak_tflops, kAssumedPeakTflops);
  const Plan split = make_plan(with_layout(small_config(), 2, 2, 2), 8);
  EXPECT_GT(split.step.dp_comm_s, 0);
  EXPECT_GT(split.step.tp_comm_s, 0);
  EXPECT_GT(split.step.pp_comm_s, 0);
  EXPECT_GT(split.step.bubble_s, 0);
  TrainConfig full = small_config();
  full.training.recompute = model::RecomputeMode::kFull;
  const Plan recomputed = make_plan(full, 1);
  EXPECT_GT(recomputed.step.recompute_s, 0);
  EXPECT_GT(recomputed.step.compute_s, single.step.compute_s);
  PlanOptions faster;
  faster.peak_tflops = 2 * kAssumedPeakTflops;
  EXPECT_NEAR(make_plan(small_config(), 1, faster).step.compute_s, single.step.compute_s / 2, 1e-12);
}

TEST(Planner, MemorySizesParseWithTheirUnits) {
  EXPECT_EQ(parse_memory_size("80GB", "--dry-run.memory"), 80'000'000'000ull);
  EXPECT_EQ(parse_memory_size("512MiB", "--dry-run.memory"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("1.5 gib", "--dry-run.memory"), 3ull << 29);
  EXPECT_EQ(parse_memory_size("4kb", "--dry-run.memory"), 4000u);
  EXPECT_EQ(parse_memory_size("4096B", "--dry-run.memory"), 4096u);
  for (const char* bad : {"80", "80XB", "GB", "-1GB", "0GB", ""}) {
    try {
      parse_memory_size(bad, "--dry-run.memory");
      ADD_FAILURE() << "'" << bad << "' parsed";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--dry-run.memory"), std::string::npos) << e.what();
      EXPECT_NE(e.hint().find("80GB"), std::string::npos) << e.hint();
    }
  }
  TrainConfig c = small_config();
  EXPECT_EQ(memory_limit_of(c, {123, "device"}).bytes, 123u);
  c.training.memory_limit = "2GiB";
  const MemoryLimit limit = memory_limit_of(c, {123, "device"});
  EXPECT_EQ(limit.bytes, 2ull << 30);
  EXPECT_EQ(limit.source, "training.memory_limit");
  EXPECT_EQ(format_bytes(512ull << 20), "512.0 MiB");
  EXPECT_EQ(format_bytes(3ull << 29), "1.5 GiB");
}

TEST(Planner, LayoutsFactorTheWorldFitAndComeFastestFirst) {
  TrainConfig c = small_config();
  c.model.n_heads = 2;  // tp 4 cannot split 2 heads
  const uint64_t dp4_peak = make_plan(with_layout(c, 1, 1, 4), 4).peak_bytes();
  const MemoryLimit limit{dp4_peak - 1, "test"};
  const std::vector<Candidate> layouts = fitting_layouts(c, 4, limit);
  ASSERT_FALSE(layouts.empty());
  for (size_t i = 0; i < layouts.size(); ++i) {
    const Plan& p = layouts[i].plan;
    EXPECT_EQ(p.dp * p.tp * p.pp, 4) << layouts[i].keys;
    EXPECT_NE(p.tp, 4) << layouts[i].keys;
    EXPECT_TRUE(p.zero == 0 || p.dp > 1) << layouts[i].keys;
    EXPECT_LE(p.peak_bytes(), limit.bytes) << layouts[i].keys;
    EXPECT_FALSE(p.dp == 4 && p.zero == 0 && p.recompute == model::RecomputeMode::kNone) << layouts[i].keys;
    if (i > 0) {
      EXPECT_LE(layouts[i - 1].plan.step.total_s(), p.step.total_s());
    }
  }
  const std::string table = layouts_table(layouts, 4, limit);
  EXPECT_NE(table.find(layouts[0].keys), std::string::npos) << table;
}

TEST(Planner, CheckFitsNamesTheKeysThatFit) {
  TrainConfig c = small_config();
  const uint64_t none = make_plan(c, 1).peak_bytes();
  c.training.recompute = model::RecomputeMode::kFull;
  const uint64_t full = make_plan(c, 1).peak_bytes();
  c.training.recompute = model::RecomputeMode::kNone;
  ASSERT_LT(full, none);
  const MemoryLimit between{(full + none) / 2, "test"};
  try {
    check_fits(c, 1, between);
    ADD_FAILURE() << "a plan above the limit passed";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("does NOT fit"), std::string::npos) << message;
    EXPECT_NE(message.find("--training.recompute full"), std::string::npos) << message;
  }
  EXPECT_FALSE(fixes_that_fit(c, 1, between).empty());
  try {
    check_fits(c, 1, {1 << 20, "test"});  // 1 MiB: nothing tried fits
    ADD_FAILURE() << "a plan above the limit passed";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("Nothing tried fits"), std::string::npos) << e.what();
  }
  // On 4 ranks with full recomputation and micro-batches of 1 already, ZeRO 3 is what is left.
  TrainConfig dp4 = with_layout(small_config(), 1, 1, 4);
  dp4.training.recompute = model::RecomputeMode::kFull;
  dp4.training.micro_batch_size = 1;
  TrainConfig zero3 = dp4;
  zero3.parallel.zero = 3;
  const MemoryLimit zero3_fits{make_plan(zero3, 4).peak_bytes(), "test"};
  ASSERT_LT(zero3_fits.bytes, make_plan(dp4, 4).peak_bytes());
  const std::vector<Candidate> fixes = fixes_that_fit(dp4, 4, zero3_fits);
  ASSERT_EQ(fixes.size(), 1u);
  EXPECT_EQ(fixes[0].keys, "--parallel.zero 3");
  try {
    check_fits(dp4, 4, zero3_fits);
    ADD_FAILURE() << "a plan above the limit passed";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--parallel.zero 3"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(check_fits(c, 1, {1ull << 50, "test"}));
  EXPECT_NO_THROW(check_fits(c, 1, {0, "unknown"}));
}

TEST(Planner, DryRunReportShowsTheTableAndTheFixes) {
  const TrainConfig c = small_config();
  const std::string fits_report = dry_run_report(dry_run(c, 1, {1ull << 40, "test"}, {}, false));
  EXPECT_NE(fits_report.find("pipeline stage"), std::string::npos) << fits_report;
  EXPECT_NE(fits_report.find("fits"), std::string::npos) << fits_report;
  EXPECT_EQ(fits_report.find("does NOT fit"), std::string::npos) << fits_report;
  const std::string tight = dry_run_report(dry_run(c, 1, {make_plan(c, 1).peak_bytes() - 1, "test"}, {}, true));
  EXPECT_NE(tight.find("does NOT fit"), std::string::npos) << tight;
  EXPECT_NE(tight.find("--training."), std::string::npos) << tight;
  EXPECT_NE(tight.find("Layouts of 1 rank"), std::string::npos) << tight;
}

TEST(Planner, DryRunJsonHoldsThePlanAndTheRankedLayouts) {
  const TrainConfig c = with_layout(small_config(), 1, 2, 2);
  const MemoryLimit limit{1ull << 40, "test"};
  const DryRun run = dry_run(c, 4, limit, {}, true);
  const auto json = nlohmann::json::parse(dry_run_json(run));
  EXPECT_EQ(json["world_size"], 4);
  EXPECT_EQ(json["limit_bytes"], limit.bytes);
  EXPECT_EQ(json["limit_source"], "test");
  EXPECT_EQ(json["fits"], true);
  const auto& plan = json["plan"];
  EXPECT_EQ(plan["dp"], 2);
  EXPECT_EQ(plan["pp"], 2);
  EXPECT_EQ(plan["recompute"], "none");
  EXPECT_EQ(plan["keys"], layout_keys(run.plan));
  EXPECT_EQ(plan["peak_bytes"], run.plan.peak_bytes());
  const auto& step = plan["step"];
  EXPECT_DOUBLE_EQ(step["total_s"].get<double>(), step["compute_s"].get<double>() + step["dp_comm_s"].get<double>() +
                                                      step["tp_comm_s"].get<double>() +
                                                      step["pp_comm_s"].get<double>() + step["bubble_s"].get<double>());
  ASSERT_EQ(plan["stages"].size(), 2u);
  EXPECT_EQ(plan["stages"][1]["first_rank"], run.plan.stages[1].first_rank);
  EXPECT_EQ(plan["stages"][1]["total"], run.plan.stages[1].total());
  // The layouts in the printed order, each with the keys the table shows.
  ASSERT_EQ(json["layouts"].size(), run.layouts->size());
  for (size_t i = 0; i < run.layouts->size(); ++i) {
    EXPECT_EQ(json["layouts"][i]["keys"], (*run.layouts)[i].keys);
    if (i > 0) {
      EXPECT_LE(json["layouts"][i - 1]["step"]["total_s"], json["layouts"][i]["step"]["total_s"]);
    }
  }
  EXPECT_FALSE(nlohmann::json::parse(dry_run_json(dry_run(c, 4, limit, {}, false))).contains("layouts"));
}

}  // namespace
}  // namespace nf::train
