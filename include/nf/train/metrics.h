// What the trainer reports every log_interval steps: the console/log line, one JSON object per
// record in runs/<name>/metrics.jsonl, and TensorBoard scalars. Rank 0 writes them.
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nf/train/tensorboard.h"

namespace nf::train {

// DPO's view of a batch (docs/stages.md): the mean implicit rewards beta · (policy − reference
// log-prob) of the chosen and rejected responses, the fraction of pairs whose chosen reward is the
// larger, and the mean margin chosen − rejected.
struct PreferenceMetrics {
  double chosen = 0;
  double rejected = 0;
  double accuracy = 0;
  double margin = 0;
};

// Named parts of a loss and statistics an objective reports beside it, in its order (the neuralflow
// stages: recon_loss, commit_loss, perplexity, ...).
using NamedValues = std::vector<std::pair<std::string, double>>;

struct StepMetrics {
  int64_t step = 0;  // optimizer steps completed (1 after the first update)
  double loss = 0;
  std::optional<PreferenceMetrics> rewards;  // dpo only
  NamedValues terms;                         // the objective's other figures
  double lr = 0;
  double grad_norm = 0;
  double tokens_per_s = 0;
  double gflops_per_s = 0;    // achieved model FLOP/s of one device, in GFLOP/s
  double mfu = std::nan("");  // fraction of the peak; NaN when no peak is known (CPU)
  // Where the interval's step time went, as fractions: blocked in dp/tp communication (what
  // computation did not hide), blocked on pipeline neighbours (bubble and p2p transfers), waiting
  // for batches; compute is the rest.
  double comm = 0;
  double bubble = 0;
  double data_wait = 0;
  int64_t skipped_steps = 0;  // non-finite losses so far
};

// "step 100 | loss 8.2341 | lr 3.00e-04 | grad_norm 1.23 | tokens/s 12,345 | mfu 41.2% | GFLOP/s 407.1 |
//  compute 91.0% | comm 6.2% | bubble 2.5% | data_wait 0.3%", mfu only when the peak is known, and
// "| skipped N" when N > 0. DPO adds "| rewards/chosen 0.0123 | rewards/rejected -0.0456 |
// rewards/accuracy 62.5% | rewards/margin 0.0579" after the loss, and an objective's terms as
// " | <name> <value>"; metrics.jsonl and TensorBoard (train/<name>) carry them under the same names.
std::string format_step_line(const StepMetrics& m);
nlohmann::json to_json(const StepMetrics& m);

// 12345.6 -> "12,346".
std::string with_thousands(double value);

// "step N | val_loss X", and for dpo " | val_rewards/chosen … | val_rewards/margin …", then
// " | val_<term> X" for an objective's terms.
std::string format_eval_line(int64_t step, double val_loss, const std::optional<PreferenceMetrics>& rewards,
                             const NamedValues& terms = {});

// Per rank, in bytes: the measured peaks (memory_stats.h), the tensors held when training started
// (the model and optimizer states), the most held on top of those right before a step's last
// backward (the activations kept for it, with the loss's tensors) and the planner's prediction
// (planner.h).
struct MemoryRecord {
  std::vector<double> tensor_bytes, rss_bytes, start_bytes, activation_bytes, predicted_bytes;
};

// One completion written during training (training.sample).
struct SampleRecord {
  std::string prompt;      // as given: the text, or the conversation's "role: content" lines
  std::string completion;  // the new text (without the stop token)
  std::vector<int64_t> tokens;
  std::string finish_reason;  // "stop" or "length"
};

class MetricsSink {
 public:
  // Opens run_dir/metrics.jsonl for appending and a TensorBoard file under run_dir/tensorboard.
  // On a resume from `resume_step` > 0, records after that step (from the interrupted run) are
  // dropped first, from metrics.jsonl and samples.jsonl, so each reads as one uninterrupted run.
  MetricsSink(const std::string& run_dir, int64_t resume_step);

  void record(const StepMetrics& m);
  // A validation: val_loss, for dpo the rewards of the validation pairs ("val_rewards/…" in
  // metrics.jsonl, "val/rewards/…" in TensorBoard), and an objective's terms ("val_<name>",
  // "val/<name>").
  void record_eval(int64_t step, double val_loss, const std::optional<PreferenceMetrics>& rewards = std::nullopt,
                   const NamedValues& terms = {});
  // Every rank's measured peaks and the planner's prediction: {"step", "peak_tensor_bytes": [...],
  // "peak_rss_bytes": [...], "start_tensor_bytes": [...], "activation_bytes": [...],
  // "predicted_peak_bytes": [...]} indexed by rank, and "memory/…/rank_R" scalars in MiB.
  void record_memory(int64_t step, const MemoryRecord& record);
  // Completions of training.sample's prompts: a line each in run_dir/samples.jsonl ({"step",
  // "index", "prompt", "completion", "tokens", "finish_reason"}) and TensorBoard text "samples/<index>".
  void record_samples(int64_t step, const std::vector<SampleRecord>& samples);

 private:
  void append(const nlohmann::json& record);

  std::string samples_path_;
  std::ofstream jsonl_;
  std::ofstream samples_;  // opened at the first samples
  std::unique_ptr<TensorBoardWriter> tensorboard_;
};

}  // namespace nf::train
