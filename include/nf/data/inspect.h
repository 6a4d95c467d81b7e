// `nf-shard inspect`: what a dataset holds — per split the shard, document and token counts, the
// document-length distribution (min/mean/max and a power-of-two histogram), the fraction of
// tokens in the loss, and a few sample documents, decoded when a tokenizer is given (tokenizers
// live elsewhere; pass nullptr to print token ids).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "nf/data/manifest.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

struct SplitSummary {
  std::string name;
  uint64_t shards = 0;
  uint64_t documents = 0;
  uint64_t tokens = 0;
  uint64_t min_length = 0;
  uint64_t max_length = 0;
  double mean_length = 0.0;
  // length_histogram[b] counts documents of length in [2^b, 2^(b+1)).
  std::vector<uint64_t> length_histogram;
  double loss_fraction = 1.0;  // tokens with loss mask 1 / tokens (1 for pretrain and dpo)
};

struct DatasetSummary {
  Manifest manifest;
  std::vector<SplitSummary> splits;
};

// Reads the manifest and every shard's offsets and masks (not the tokens).
DatasetSummary inspect_dataset(const std::string& dataset_dir);

struct InspectOptions {
  std::string sample_split = "train";
  int samples = 2;                       // documents to show
  uint64_t sample_tokens = 64;           // tokens shown per document (or per DPO part)
  const Tokenizer* tokenizer = nullptr;  // decode samples when given; print ids otherwise
};

void print_summary(std::ostream& out, const DatasetSummary& summary);
// Prints the first `samples` documents of `sample_split` with their metadata.
void print_samples(std::ostream& out, const std::string& dataset_dir, const InspectOptions& options);

}  // namespace nf::data
