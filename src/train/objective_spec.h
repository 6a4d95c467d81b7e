// The registry of training objectives (training.objective) as data, without LibTorch: what the
// config checks, the planner and the dataset checks need of each (objectives.cpp lists them).
// objective.h adds the interface an objective runs through and make_objective. Private to src/train.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nf/data/document.h"
#include "nf/model/model_config.h"

namespace nf::train {

// The implementation of the Objective interface that runs an objective (make_objective).
enum class ObjectiveKind { kNextToken, kDpo, kParagraph };

// What a NeuralFlow stage (docs/neuralflow.md) sums into its loss, and so what it trains; the
// rest of the model is frozen (no gradient, no weight decay).
struct ParagraphParts {
  // Every paragraph encoded, quantized and decoded again: reconstruction, commitment and codebook
  // losses. Trains the encoder, the codebook and the decoder.
  bool reconstruct = false;
  // The brain predicts each next latent: prediction (MSE) and ponder cost. Trains the brain.
  bool predict = false;
  // `next` decoded from the brain's prediction with the record's emotion. Trains the brain, the
  // emotion embedding and the decoder.
  bool decode_next = false;
};

// One entry of the registry.
struct ObjectiveSpec {
  std::string name;                          // training.objective
  std::vector<data::DatasetFormat> formats;  // the datasets it trains on (the first is the one to build)
  int64_t rows_per_sample = 1;               // rows of the batch per sample (two per preference pair)
  double flops_factor = 1.0;                 // model FLOPs per token against one forward-backward
  std::string unpacked_rows;                 // why training.document_mask does not apply; "" = it does
  ObjectiveKind kind = ObjectiveKind::kNextToken;
  model::Architecture arch = model::Architecture::kLlama;  // the model it trains
  ParagraphParts paragraph;                                // kParagraph's
  bool emotion_labels = false;                             // every record must carry an emotion label
};

// Every objective, in registry order, and their names (the accepted values of training.objective).
const std::vector<ObjectiveSpec>& objectives();
std::vector<std::string> objective_names();
// The objective `name`; UsageError when there is none (the config schema refuses such names first).
const ObjectiveSpec& find_objective(const std::string& name);

}  // namespace nf::train
