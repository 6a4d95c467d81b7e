// The objective registry (objective_spec.h): one entry per training.objective. A new objective adds
// its file, its ObjectiveKind (make_objective in objective.h builds it) and one entry here.
#include "nf/core/error.h"
#include "objective_spec.h"

namespace nf::train {

const std::vector<ObjectiveSpec>& objectives() {
  using data::DatasetFormat;
  constexpr auto kLlama = model::Architecture::kLlama, kNeuralFlow = model::Architecture::kNeuralFlow;
  constexpr const char* kParagraphRows = "rows hold one record's paragraphs each, unpacked";
  static const std::vector<ObjectiveSpec> registry = {
      // The next-token loss on every (or every masked-in) token: pretraining and sequence data.
      {"pretrain",
       {DatasetFormat::kPretrain, DatasetFormat::kSequence},
       1,
       1.0,
       "",
       ObjectiveKind::kNextToken,
       kLlama,
       {},
       false},
      // The same loss on the response tokens of chat data.
      {"sft", {DatasetFormat::kSft}, 1, 1.0, "", ObjectiveKind::kNextToken, kLlama, {}, false},
      // Preference pairs against a frozen reference, whose forward adds a third of a training step.
      {"dpo",
       {DatasetFormat::kDpo},
       2,
       4.0 / 3.0,
       "rows hold one pair each, unpacked",
       ObjectiveKind::kDpo,
       kLlama,
       {},
       false},
      // The NeuralFlow model's four stages (docs/neuralflow.md), on paragraph sequences.
      {"vqvae",
       {DatasetFormat::kSequence},
       1,
       1.0,
       kParagraphRows,
       ObjectiveKind::kParagraph,
       kNeuralFlow,
       {true, false, false},
       false},
      {"dynamics",
       {DatasetFormat::kSequence},
       1,
       1.0,
       kParagraphRows,
       ObjectiveKind::kParagraph,
       kNeuralFlow,
       {false, true, false},
       false},
      {"emotion",
       {DatasetFormat::kSequence},
       1,
       1.0,
       kParagraphRows,
       ObjectiveKind::kParagraph,
       kNeuralFlow,
       {false, true, true},
       /*emotion_labels=*/true},
      {"finetune",
       {DatasetFormat::kSequence},
       1,
       1.0,
       kParagraphRows,
       ObjectiveKind::kParagraph,
       kNeuralFlow,
       {true, true, true},
       false},
  };
  return registry;
}

std::vector<std::string> objective_names() {
  std::vector<std::string> names;
  for (const ObjectiveSpec& spec : objectives()) names.push_back(spec.name);
  return names;
}

const ObjectiveSpec& find_objective(const std::string& name) {
  for (const ObjectiveSpec& spec : objectives())
    if (spec.name == name) return spec;
  throw UsageError("training.objective '" + name + "' is not an objective of this nf-train");
}

}  // namespace nf::train
