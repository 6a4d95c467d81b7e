// Opening a run's training and validation data (training_data.h).
#include "training_data.h"

#include "nf/core/error.h"
#include "nf/data/tokenizer_loader.h"

namespace nf::train {
namespace {

// What the datasets read beside tokens: the neuralflow stages' labels (and the records' ids, to
// name a bad one).
data::TokenDatasetOptions dataset_options(const TrainConfig& config) {
  data::TokenDatasetOptions options;
  options.model_vocab_size = config.model.vocab_size;
  if (config.model.neuralflow()) options.metadata_fields = {"id", "emotion"};
  return options;
}

// The validation split (data.val_path, else the train dataset's val split), or null when there
// is none to evaluate on. It must have the train dataset's format.
std::shared_ptr<const data::TokenDataset> open_validation(const TrainConfig& config, const data::Manifest& train,
                                                          const data::LoaderOptions& loader, Logger& log) {
  if (config.training.eval_interval == 0) return nullptr;
  const std::string path = config.data.val_path.empty() ? config.data.train_path : config.data.val_path;
  const data::Manifest manifest = data::read_manifest(path);
  const auto split = manifest.splits.find("val");
  if (split == manifest.splits.end() || split->second.tokens <= static_cast<uint64_t>(config.training.seq_len)) {
    log.warn("no validation: '", path, "' has no val split longer than training.seq_len; build the dataset with ",
             "nf-shard build --val-fraction > 0 or set data.val_path");
    return nullptr;
  }
  NF_CHECK(manifest.format == train.format, ConfigError, "data.val_path '", path, "' is a ",
           data::format_name(manifest.format), " dataset but data.train_path is ", data::format_name(train.format));
  data::TokenDatasetOptions options = dataset_options(config);
  options.split = "val";
  options.tokenizer_fingerprint = train.tokenizer.fingerprint;
  auto validation = std::make_shared<const data::TokenDataset>(path, options);
  if (loader.paragraphs.enabled()) data::check_emotion_labels(*validation, loader.paragraphs);
  return validation;
}

// The id of the token that ends each paragraph: the dataset's tokenizer's <|eos|>.
data::TokenId paragraph_end(const std::string& dataset_dir) {
  const std::unique_ptr<data::Tokenizer> tokenizer = data::load_tokenizer_with(dataset_dir, nullptr);
  const std::optional<data::TokenId> eos = tokenizer->special(data::SpecialRole::kEos);
  NF_CHECK(eos.has_value(), DataError, "the tokenizer of dataset '", dataset_dir,
           "' has no end-of-sequence token, which separates a record's paragraphs; build the dataset with a "
           "tokenizer that has one (nf's BPE: <|eos|>)");
  return *eos;
}

}  // namespace

void check_objective_data(const ObjectiveSpec& objective, data::DatasetFormat format, const std::string& path) {
  for (const data::DatasetFormat fits : objective.formats)
    if (fits == format) return;
  const std::string built = data::format_name(objective.formats.front());
  std::string wanted = built;
  for (size_t i = 1; i < objective.formats.size(); ++i) {
    wanted += std::string(i == 1 ? " (or " : ", ") + data::format_name(objective.formats[i]);
  }
  if (objective.formats.size() > 1) wanted += ")";
  std::string hint = "build the dataset with nf-shard build --format " + built;
  for (const ObjectiveSpec& other : objectives()) {
    if (other.formats.front() == format) hint = "set training.objective " + other.name + ", or " + hint;
  }
  throw ConfigError("training.objective " + objective.name + " trains on " + wanted + " data, but '" + path +
                        "' is a " + data::format_name(format) + " dataset",
                    hint);
}

data::LoaderOptions loader_options(const TrainConfig& config, const ObjectiveSpec& objective) {
  const TrainingConfig& t = config.training;
  data::LoaderOptions loader;
  loader.seq_len = t.seq_len;
  loader.global_batch_size = t.global_batch_size;
  loader.seed = static_cast<uint64_t>(t.seed);
  loader.document_ids = t.document_mask;
  if (config.model.neuralflow()) {
    data::ParagraphOptions& paragraphs = loader.paragraphs;
    paragraphs.max_paragraphs = config.model.max_paragraphs;
    paragraphs.max_paragraph_len = config.model.max_paragraph_len;
    paragraphs.emotions = config.model.emotions;
    paragraphs.require_emotion = objective.emotion_labels;
    loader.seq_len = paragraphs.row_tokens();
  }
  return loader;
}

TrainingData open_training_data(const TrainConfig& config, const ObjectiveSpec& objective, const dist::Mesh& mesh,
                                const DataStart& start, Logger& log) {
  const TrainingConfig& t = config.training;
  data::TokenDatasetOptions options = dataset_options(config);
  options.tokenizer_fingerprint = start.resumed_fingerprint;  // a resumed run's: the same dataset's
  auto train_data = std::make_shared<const data::TokenDataset>(config.data.train_path, options);
  const data::Manifest& manifest = train_data->manifest();
  check_objective_data(objective, manifest.format, config.data.train_path);
  if (!train_data->has_chunk_checksums()) {
    log.warn("data: '", config.data.train_path, "' was built before per-chunk checksums, so a damaged shard is not ",
             "noticed as it is read; check it once with nf-shard verify (whole-file SHA-256), or rebuild it with ",
             "this nf-shard build");
  }
  NF_CHECK(start.resumed || start.load_from_fingerprint.empty() ||
               start.load_from_fingerprint == manifest.tokenizer.fingerprint,
           DataError, "data.train_path '", config.data.train_path, "' was tokenized by tokenizer ",
           manifest.tokenizer.fingerprint.substr(0, 12), ", but training.load_from '", start.load_from,
           "' was trained on data of tokenizer ", start.load_from_fingerprint.substr(0, 12),
           "; build the dataset with that tokenizer: nf-shard build --tokenizer <the earlier dataset's directory>");
  TrainingData out;
  out.tokenizer_fingerprint = manifest.tokenizer.fingerprint;
  data::LoaderOptions& loader = out.loader_options;
  loader = loader_options(config, objective);
  loader.dp_rank = static_cast<int>(mesh.coords().dp);
  loader.dp_size = static_cast<int>(mesh.shape().dp());
  if (loader.paragraphs.enabled()) {
    loader.paragraphs.eos_id = paragraph_end(config.data.train_path);
    data::check_emotion_labels(*train_data, loader.paragraphs);
  }
  out.loader = std::make_unique<data::DataLoader>(train_data, loader, start.resumed);
  out.max_steps = resolve_max_steps(t, out.loader->num_samples());
  const std::string kind = manifest.chat_template.empty() ? ""
                                                          : std::string(" (") + data::format_name(manifest.format) +
                                                                ", chat template " + manifest.chat_template + ")";
  const std::string unit = objective.rows_per_sample > 1 ? " pairs per epoch"
                           : loader.paragraphs.enabled()
                               ? " records per epoch (up to " + std::to_string(config.model.max_paragraphs) +
                                     " paragraphs of " + std::to_string(config.model.max_paragraph_len) + " tokens)"
                               : " samples of " + std::to_string(t.seq_len) + " per epoch";
  const std::string epochs =
      t.epochs > 0 ? "; training.epochs " + std::to_string(t.epochs) + " = " + std::to_string(out.max_steps) + " steps"
                   : "";
  log.info("data: ", config.data.train_path, " train split", kind, ", ",
           with_thousands(static_cast<double>(train_data->num_tokens())), " tokens, ",
           with_thousands(static_cast<double>(out.loader->num_samples())), unit, epochs);
  NF_CHECK(t.warmup_steps <= out.max_steps, ConfigError, "training.warmup_steps (", t.warmup_steps, ") exceeds the ",
           out.max_steps, " steps of training.epochs ", t.epochs);
  out.validation = open_validation(config, manifest, loader, log);
  return out;
}

}  // namespace nf::train
