// The trainer's reporting and checkpoint bookkeeping that need no MPI: the log line, metrics
// records, MFU's FLOP count, and the resolution of checkpoint.resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../support/temp_dir.h"
#include "nf/ckpt/checkpoint.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/model/flops.h"
#include "nf/train/metrics.h"

namespace nf::train {
namespace {

namespace fs = std::filesystem;

TEST(Metrics, LogLineHasEveryField) {
  StepMetrics m;
  m.step = 100;
  m.loss = 8.23412;
  m.lr = 3e-4;
  m.grad_norm = 1.234;
  m.tokens_per_s = 12345.4;
  m.gflops_per_s = 98.76;
  m.mfu = 0.4123;
  m.comm = 0.062;
  m.bubble = 0.025;
  m.data_wait = 0.003;
  EXPECT_EQ(format_step_line(m),
            "step 100 | loss 8.2341 | lr 3.00e-04 | grad_norm 1.23 | tokens/s 12,345 | mfu 41.2% | GFLOP/s 98.8 | "
            "compute 91.0% | comm 6.2% | bubble 2.5% | data_wait 0.3%");
  m.mfu = std::nan("");
  m.skipped_steps = 2;
  EXPECT_EQ(format_step_line(m),
            "step 100 | loss 8.2341 | lr 3.00e-04 | grad_norm 1.23 | tokens/s 12,345 | GFLOP/s 98.8 | compute 91.0% | "
            "comm 6.2% | bubble 2.5% | data_wait 0.3% | skipped 2");
  const nlohmann::json j = to_json(m);
  EXPECT_EQ(j.at("step"), 100);
  EXPECT_DOUBLE_EQ(j.at("loss").get<double>(), 8.23412);
  EXPECT_DOUBLE_EQ(j.at("comm").get<double>(), 0.062);
  EXPECT_DOUBLE_EQ(j.at("bubble").get<double>(), 0.025);
  EXPECT_FALSE(j.contains("mfu"));
}

TEST(Metrics, DpoRewardsInTheStepAndValidationRecords) {
  StepMetrics m;
  m.step = 7;
  m.loss = 0.6;
  m.rewards = PreferenceMetrics{0.125, -0.25, 0.625, 0.375};
  EXPECT_EQ(format_step_line(m).substr(0, 120),
            "step 7 | loss 0.6000 | rewards/chosen 0.1250 | rewards/rejected -0.2500 | rewards/accuracy 62.5% | "
            "rewards/margin 0.3750");
  EXPECT_DOUBLE_EQ(to_json(m).at("rewards/margin").get<double>(), 0.375);
  EXPECT_EQ(format_eval_line(20, 5.652161, std::nullopt), "step 20 | val_loss 5.65216");
  EXPECT_EQ(format_eval_line(20, 0.61, m.rewards),
            "step 20 | val_loss 0.61 | val_rewards/chosen 0.1250 | val_rewards/rejected -0.2500 | "
            "val_rewards/accuracy 62.5% | val_rewards/margin 0.3750");
  nf::testing::TempDir dir;
  {
    MetricsSink sink(dir.path().string(), 0);
    sink.record_eval(20, 0.61, m.rewards);
    sink.record_eval(40, 5.5);
  }
  std::ifstream in(dir.path().string() + "/metrics.jsonl");
  std::string line;
  std::getline(in, line);
  const nlohmann::json dpo = nlohmann::json::parse(line);
  EXPECT_DOUBLE_EQ(dpo.at("val_loss").get<double>(), 0.61);
  EXPECT_DOUBLE_EQ(dpo.at("val_rewards/chosen").get<double>(), 0.125);
  EXPECT_DOUBLE_EQ(dpo.at("val_rewards/accuracy").get<double>(), 0.625);
  std::getline(in, line);
  EXPECT_EQ(nlohmann::json::parse(line), (nlohmann::json{{"step", 40}, {"val_loss", 5.5}}));
}

TEST(Metrics, Thousands) {
  EXPECT_EQ(with_thousands(0), "0");
  EXPECT_EQ(with_thousands(999.6), "1,000");
  EXPECT_EQ(with_thousands(1234567), "1,234,567");
  EXPECT_EQ(with_thousands(-1234), "-1,234");
}

TEST(Metrics, ResumeDropsRecordsOfTheInterruptedRun) {
  nf::testing::TempDir dir;
  write_file_atomic(dir.path().string() + "/metrics.jsonl",
                    "{\"step\":1,\"loss\":5}\n{\"step\":2,\"loss\":4}\n{\"step\":3,\"loss\":3}\n");
  { MetricsSink sink(dir.path().string(), 2); }
  EXPECT_EQ(read_file(dir.path().string() + "/metrics.jsonl"), "{\"step\":1,\"loss\":5}\n{\"step\":2,\"loss\":4}\n");
  { MetricsSink sink(dir.path().string(), 0); }
  EXPECT_EQ(read_file(dir.path().string() + "/metrics.jsonl"), "");
}

TEST(Flops, MatchesTheFormulaByHand) {
  model::ModelConfig c;
  c.vocab_size = 1000;
  c.d_model = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.ffn_hidden = 128;
  // Per layer: q,k,v,o 4·64·64 + gate/up/down 3·64·128; lm_head 1000·64.
  const double weights = 2 * (4 * 64 * 64 + 3 * 64 * 128) + 1000 * 64;
  EXPECT_DOUBLE_EQ(model::training_flops_per_token(c, 32), 6 * weights + 12.0 * 2 * 32 * 64);
  c.tie_embeddings = true;  // the output matmul still runs
  EXPECT_DOUBLE_EQ(model::training_flops_per_token(c, 32), 6 * weights + 12.0 * 2 * 32 * 64);
}

TEST(Checkpoint, ResumeCandidates) {
  nf::testing::TempDir dir;
  const std::string checkpoints = dir.path().string() + "/checkpoints";
  using List = std::vector<std::string>;
  EXPECT_EQ(ckpt::resume_candidates("", checkpoints), List{});
  EXPECT_EQ(ckpt::resume_candidates("auto", checkpoints), List{});  // nothing saved yet: start fresh
  for (const char* step : {"step_2", "step_4", "step_10"})
    write_file_atomic(checkpoints + "/" + step + "/meta.json", "{}");
  fs::create_directories(checkpoints + "/step_12.partial");  // an interrupted save is never a candidate
  write_file_atomic(checkpoints + "/latest", "step_4\n");
  EXPECT_EQ(ckpt::resume_candidates("auto", checkpoints),
            (List{checkpoints + "/step_4", checkpoints + "/step_10", checkpoints + "/step_2"}));
  EXPECT_EQ(ckpt::resume_candidates(checkpoints, checkpoints), List{checkpoints + "/step_4"});
  EXPECT_EQ(ckpt::resume_candidates(checkpoints + "/step_2", checkpoints), List{checkpoints + "/step_2"});
  try {
    ckpt::resume_candidates(dir.path().string() + "/nope", checkpoints);
    FAIL() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path().string() + "/nope"), std::string::npos) << e.what();
  }
  write_file_atomic(checkpoints + "/latest", "step_9\n");  // names a directory that is not there
  EXPECT_THROW(ckpt::resume_candidates(checkpoints, checkpoints), CheckpointError);
  EXPECT_EQ(ckpt::resume_candidates("auto", checkpoints).front(), checkpoints + "/step_10");
}

}  // namespace
}  // namespace nf::train
