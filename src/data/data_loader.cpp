// Batch assembly (packed windows and DPO pairs) and the prefetching loader around it.
#include "nf/data/data_loader.h"

#include <algorithm>
#include <cstring>

#include "nf/core/error.h"

namespace nf::data {
namespace {

// One packed sample: inputs/targets/mask rows for window [sample·T, sample·T + T + 1).
void fill_packed_row(const TokenDataset& dataset, uint64_t sample, int64_t seq_len, TokenId* inputs, TokenId* targets,
                     uint8_t* mask) {
  const auto length = static_cast<uint64_t>(seq_len);
  const uint64_t begin = sample * length;
  dataset.copy_tokens(begin, length, inputs);
  std::memcpy(targets, inputs + 1, (length - 1) * sizeof(TokenId));
  dataset.copy_tokens(begin + length, 1, targets + length - 1);
  // The mask belongs to the predicted token, so it shifts with the targets.
  dataset.copy_loss_mask(begin + 1, length, mask);
}

// One DPO row: prompt ‖ response, truncated to T+1 tokens or padded, mask on response targets.
void fill_dpo_row(const TokenDataset& dataset, const TokenDataset::DocumentRef& doc, bool chosen,
                  const LoaderOptions& options, std::vector<TokenId>& scratch, TokenId* inputs, TokenId* targets,
                  uint8_t* mask) {
  const auto window = static_cast<uint64_t>(options.seq_len) + 1;
  const uint64_t response_begin = doc.begin + doc.dpo.prompt + (chosen ? 0 : doc.dpo.chosen);
  const uint64_t response_length = chosen ? doc.dpo.chosen : doc.dpo.rejected;
  const uint64_t prompt = std::min(doc.dpo.prompt, window);
  const uint64_t response = std::min(response_length, window - prompt);
  scratch.assign(window, options.pad_id);
  dataset.copy_tokens(doc.begin, prompt, scratch.data());
  dataset.copy_tokens(response_begin, response, scratch.data() + prompt);
  const uint64_t used = prompt + response;
  for (uint64_t j = 0; j + 1 < window; ++j) {
    inputs[j] = scratch[j];
    targets[j] = scratch[j + 1];
    mask[j] = (j + 1 >= prompt && j + 1 < used) ? 1 : 0;
  }
}

}  // namespace

uint64_t samples_per_epoch(const TokenDataset& dataset, const LoaderOptions& options) {
  const int64_t seq_len = options.seq_len;
  NF_CHECK(seq_len > 0, UsageError, "seq_len must be positive, got ", seq_len);
  const uint64_t samples = dataset.format() == DatasetFormat::kDpo || options.paragraphs.enabled()
                               ? dataset.num_documents()
                               : (dataset.num_tokens() - 1) / static_cast<uint64_t>(seq_len);
  if (samples == 0) {
    throw DataError("split '" + dataset.split() + "' of dataset '" + dataset.directory() + "' has " +
                        std::to_string(dataset.num_tokens()) + " tokens, too few for one sample of seq_len " +
                        std::to_string(seq_len) + " (needs seq_len + 1)",
                    "lower training.seq_len or build the dataset from more text");
  }
  return samples;
}

namespace {

// This rank's paragraph rows (paragraph_rows.h) of the samples at stream positions [first, first + samples).
void fill_paragraph_rows(const TokenDataset& dataset, const LoaderOptions& options, uint64_t first, uint64_t samples,
                         uint64_t num_samples, Batch& batch) {
  const ParagraphOptions& paragraphs = options.paragraphs;
  NF_CHECK(options.seq_len == paragraphs.row_tokens(), UsageError, "paragraph rows need seq_len ",
           paragraphs.row_tokens(), " (max_paragraphs x max_paragraph_len), got ", options.seq_len);
  batch.inputs.resize(samples * static_cast<size_t>(options.seq_len));
  batch.paragraph_lengths.resize(samples * static_cast<size_t>(paragraphs.max_paragraphs));
  batch.emotions.resize(samples);
  std::vector<TokenId> scratch;
  for (uint64_t k = 0; k < samples; ++k) {
    const uint64_t sample = sample_at(first + k, num_samples, options.seed, options.shuffle);
    batch.sample_ids.push_back(sample);
    fill_paragraph_row(
        dataset, sample, paragraphs, options.pad_id, scratch, &batch.inputs[k * static_cast<size_t>(options.seq_len)],
        &batch.paragraph_lengths[k * static_cast<size_t>(paragraphs.max_paragraphs)], &batch.emotions[k]);
  }
}

}  // namespace

Batch make_batch(const TokenDataset& dataset, const LoaderOptions& options, uint64_t consumed_samples) {
  const uint64_t num_samples = samples_per_epoch(dataset, options);
  const auto global = static_cast<uint64_t>(options.global_batch_size);
  const uint64_t first = rank_slice_start(consumed_samples, global, options.dp_rank, options.dp_size);
  const uint64_t samples = global / static_cast<uint64_t>(options.dp_size);
  if (options.paragraphs.enabled()) {
    Batch batch;
    batch.rows = static_cast<int64_t>(samples);
    batch.seq_len = options.seq_len;
    fill_paragraph_rows(dataset, options, first, samples, num_samples, batch);
    batch.state = {consumed_samples + global, num_samples, options.seq_len, options.seed};
    return batch;
  }
  const bool dpo = dataset.format() == DatasetFormat::kDpo;
  Batch batch;
  batch.rows = static_cast<int64_t>(dpo ? 2 * samples : samples);
  batch.seq_len = options.seq_len;
  const size_t cells = static_cast<size_t>(batch.rows * batch.seq_len);
  batch.inputs.resize(cells);
  batch.targets.resize(cells);
  batch.loss_mask.resize(cells);
  if (options.document_ids && !dpo) batch.document_ids.resize(cells);
  std::vector<TokenId> scratch;
  for (uint64_t k = 0; k < samples; ++k) {
    const uint64_t sample = sample_at(first + k, num_samples, options.seed, options.shuffle);
    batch.sample_ids.push_back(sample);
    const size_t row = k * static_cast<size_t>(options.seq_len);
    if (!dpo) {
      fill_packed_row(dataset, sample, options.seq_len, &batch.inputs[row], &batch.targets[row], &batch.loss_mask[row]);
      if (!batch.document_ids.empty()) {
        dataset.copy_document_ids(sample * static_cast<uint64_t>(options.seq_len),
                                  static_cast<uint64_t>(options.seq_len), &batch.document_ids[row]);
      }
      continue;
    }
    const TokenDataset::DocumentRef doc = dataset.document(sample);
    const size_t rejected_row = row + samples * static_cast<size_t>(options.seq_len);
    fill_dpo_row(dataset, doc, true, options, scratch, &batch.inputs[row], &batch.targets[row], &batch.loss_mask[row]);
    fill_dpo_row(dataset, doc, false, options, scratch, &batch.inputs[rejected_row], &batch.targets[rejected_row],
                 &batch.loss_mask[rejected_row]);
  }
  batch.state = {consumed_samples + global, num_samples, options.seq_len, options.seed};
  return batch;
}

DataLoader::DataLoader(std::shared_ptr<const TokenDataset> dataset, LoaderOptions options, const LoaderState* resume)
    : dataset_(std::move(dataset)),
      options_(options),
      num_samples_(samples_per_epoch(*dataset_, options_)),
      consumed_(0),
      produced_(0) {
  rank_slice_start(0, static_cast<uint64_t>(options_.global_batch_size), options_.dp_rank, options_.dp_size);
  if (resume != nullptr) {
    if (resume->num_samples != num_samples_ || resume->seq_len != options_.seq_len || resume->seed != options_.seed) {
      throw DataError("the saved data position (" + std::to_string(resume->num_samples) +
                          " samples per epoch, seq_len " + std::to_string(resume->seq_len) + ", seed " +
                          std::to_string(resume->seed) + ") does not fit this run (" + std::to_string(num_samples_) +
                          ", seq_len " + std::to_string(options_.seq_len) + ", seed " + std::to_string(options_.seed) +
                          ")",
                      "resume with the dataset, training.seq_len and training.seed the checkpoint was made with");
    }
    consumed_ = produced_ = resume->consumed_samples;
  }
  if (options_.prefetch_batches > 0) worker_ = std::thread([this] { prefetch_loop(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void DataLoader::prefetch_loop() {
  while (true) {
    uint64_t position = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || queue_.size() < options_.prefetch_batches; });
      if (stopping_) return;
      position = produced_;
    }
    try {
      // Built outside the lock: the trainer keeps taking queued batches meanwhile.
      Batch batch = make_batch(*dataset_, options_, position);
      std::lock_guard<std::mutex> lock(mutex_);
      produced_ = batch.state.consumed_samples;
      queue_.push_back(std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      changed_.notify_all();
      return;
    }
    changed_.notify_all();
  }
}

Batch DataLoader::next() {
  if (!worker_.joinable()) {
    Batch batch = make_batch(*dataset_, options_, consumed_);
    consumed_ = batch.state.consumed_samples;
    return batch;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return !queue_.empty() || error_; });
  if (queue_.empty()) std::rethrow_exception(error_);
  Batch batch = std::move(queue_.front());
  queue_.pop_front();
  consumed_ = batch.state.consumed_samples;
  lock.unlock();
  changed_.notify_all();
  return batch;
}

LoaderState DataLoader::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {consumed_, num_samples_, options_.seq_len, options_.seed};
}

}  // namespace nf::data
