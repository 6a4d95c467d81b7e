// training.sample (docs/generation.md): every `interval` steps the model completes a fixed set of
// prompts, written to samples.jsonl and TensorBoard text by the metrics sink. Generation runs under
// no_grad with its own seeded generators and reads no batch, so a run with samples trains exactly
// as one without.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "nf/core/logging.h"
#include "nf/data/document.h"
#include "nf/data/tokenizer.h"
#include "nf/model/generation.h"
#include "nf/train/config.h"
#include "nf/train/metrics.h"

namespace nf::train {

class TrainingSamples {
 public:
  // Reads the prompts file and loads the training dataset's tokenizer (its manifest's, with its chat
  // template for conversation prompts); does nothing more when training.sample.interval is 0.
  // UsageError/DataError naming the prompts file, a prompt that does not fit the model's context, or a
  // tokenizer nf-train cannot read.
  explicit TrainingSamples(const TrainConfig& config);

  bool due(int64_t step) const { return interval_ > 0 && step % interval_ == 0; }
  // Every rank of the whole model calls it: tp ranks generate together, and every dp replica gets
  // the same records. The model's parameters must hold their values (ZeRO 3: gathered).
  std::vector<SampleRecord> generate(model::CausalLMImpl& model) const;

 private:
  int64_t interval_ = 0;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  std::vector<data::Document> prompts_;
  std::vector<std::vector<int64_t>> prompt_ids_;
  model::GenerationOptions options_;
};

}  // namespace nf::train
