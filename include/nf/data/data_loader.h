// Batches for the trainer. make_batch is the pure function from (dataset, options, stream
// position) to this DP rank's slice of one global batch; DataLoader runs it ahead of the trainer
// on a background thread that fills a bounded queue, and reports the position of the last batch
// handed out, which is what a checkpoint saves.
//
// Sample i of a packed format (pretrain, sft, sequence) for seq_len T is tokens [i·T, i·T+T+1)
// of the split's concatenated stream: inputs = the first T, targets = the last T, loss mask =
// the stored mask shifted like the targets (all ones for pretrain). There are
// (num_tokens − 1) / T samples per epoch. For dpo, sample i is document i: row k of the first
// half of the batch is prompt ‖ chosen of pair k, row k of the second half prompt ‖ rejected;
// each right-padded with pad_id or truncated to T+1 tokens, with the loss mask on response
// targets only. With LoaderOptions::paragraphs (the NeuralFlow model), sample i is document i as a
// row of paragraph slots (paragraph_rows.h): inputs only, seq_len = its row_tokens().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "nf/data/paragraph_rows.h"
#include "nf/data/sampler.h"
#include "nf/data/token_dataset.h"

namespace nf::data {

struct LoaderOptions {
  int64_t seq_len = 256;
  int64_t global_batch_size = 32;  // samples (dpo: pairs) per optimizer step over all DP ranks
  int dp_rank = 0;
  int dp_size = 1;
  uint64_t seed = 1234;
  bool shuffle = true;          // false for validation: samples in stream order
  size_t prefetch_batches = 4;  // bounded queue depth of the background thread; 0 = no thread
  TokenId pad_id = 0;           // dpo padding (masked out of the loss)
  bool document_ids = false;    // fill Batch::document_ids (packed formats)
  ParagraphOptions paragraphs;  // enabled: rows of paragraphs (seq_len must be its row_tokens())
};

// This rank's rows of one global batch, row-major [rows, seq_len].
struct Batch {
  int64_t rows = 0;
  int64_t seq_len = 0;
  std::vector<TokenId> inputs;
  std::vector<TokenId> targets;
  std::vector<uint8_t> loss_mask;
  // With LoaderOptions::document_ids (packed formats only): per input token, an id of the document
  // it belongs to (equal ids = the same document); empty otherwise.
  std::vector<int64_t> document_ids;
  // Paragraph rows only (then targets and loss_mask are empty): each slot's token count
  // [rows, max_paragraphs] (0 = unused) and each row's emotion id [rows].
  std::vector<int64_t> paragraph_lengths;
  std::vector<int64_t> emotions;
  std::vector<uint64_t> sample_ids;  // one per sample (dpo: per pair), for tests and logging
  LoaderState state;                 // the stream position after this batch
};

// Samples per epoch for these options: (num_tokens − 1) / seq_len, or documents for dpo and
// paragraph rows. Throws DataError when the split is too small for even one sample.
uint64_t samples_per_epoch(const TokenDataset& dataset, const LoaderOptions& options);

// This rank's slice of the global batch starting at stream position `consumed_samples`.
Batch make_batch(const TokenDataset& dataset, const LoaderOptions& options, uint64_t consumed_samples);

class DataLoader {
 public:
  // Starts at `resume` (a state saved by an earlier run, possibly with another dp_size); throws
  // DataError when it was taken on another dataset size, seq_len or seed.
  DataLoader(std::shared_ptr<const TokenDataset> dataset, LoaderOptions options, const LoaderState* resume = nullptr);
  // Stops and joins the prefetch thread; batches still queued are dropped.
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The next batch; rethrows an error of the prefetch thread.
  Batch next();
  // The position after the last batch next() returned: save this in a checkpoint.
  LoaderState state() const;
  uint64_t num_samples() const { return num_samples_; }

 private:
  void prefetch_loop();

  std::shared_ptr<const TokenDataset> dataset_;
  LoaderOptions options_;
  uint64_t num_samples_;
  uint64_t consumed_;  // position after the last batch returned by next()
  uint64_t produced_;  // position after the last batch the prefetch thread made

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace nf::data
