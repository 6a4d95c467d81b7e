// The global sample order and its resumable position. The order is a pure function of
// (number of samples, seed, epoch): a keyed permutation that never depends on the number of
// data-parallel ranks. The stream of samples is epoch 0's permutation, then epoch 1's, …; a
// global batch of B samples is the next B positions of that stream (it may straddle an epoch
// boundary), and DP rank r of D takes its contiguous slice [r·B/D, (r+1)·B/D) of every global
// batch. The position is counted in global samples, so a resume with another D (any D that
// divides B) neither skips nor repeats a sample.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace nf::data {

// A bijection of [0, size) keyed by (seed, epoch): a 4-round Feistel network on the smallest
// even number of bits covering `size`, with cycle walking back into range. O(1) memory, fully
// specified (no std:: distribution), so the order is identical on every machine and compiler.
class SamplePermutation {
 public:
  SamplePermutation(uint64_t size, uint64_t seed, uint64_t epoch, bool shuffle = true);
  uint64_t operator()(uint64_t index) const;
  uint64_t size() const { return size_; }

 private:
  uint64_t encrypt(uint64_t value) const;

  uint64_t size_;
  bool shuffle_;
  unsigned half_bits_ = 1;
  uint64_t half_mask_ = 1;
  uint64_t keys_[4] = {};
};

// Where a data stream stands: samples consumed over all epochs, plus what the position is only
// valid for (checked on restore). Saved in the checkpoint as JSON.
struct LoaderState {
  uint64_t consumed_samples = 0;  // global samples served so far, over all epochs and ranks
  uint64_t num_samples = 0;       // samples per epoch of the dataset this was taken on
  int64_t seq_len = 0;
  uint64_t seed = 0;

  uint64_t epoch() const { return num_samples == 0 ? 0 : consumed_samples / num_samples; }
  uint64_t sample_in_epoch() const { return num_samples == 0 ? 0 : consumed_samples % num_samples; }
};

nlohmann::json loader_state_to_json(const LoaderState& state);
// Throws DataError naming a missing key, or one that is not an integer; `source` says where the JSON
// came from.
LoaderState loader_state_from_json(const nlohmann::json& json, const std::string& source);

// The sample id at global stream position `position` (epoch = position / num_samples).
uint64_t sample_at(uint64_t position, uint64_t num_samples, uint64_t seed, bool shuffle = true);

// The first stream position of DP rank `dp_rank`'s slice of the global batch that starts at
// `consumed_samples`; the slice has global_batch_size / dp_size positions. Throws UsageError
// when dp_size does not divide global_batch_size or dp_rank is out of range.
uint64_t rank_slice_start(uint64_t consumed_samples, uint64_t global_batch_size, int dp_rank, int dp_size);

}  // namespace nf::data
