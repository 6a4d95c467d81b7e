// The keyed Feistel permutation behind the global sample order, DP slicing of global batches,
// and the resumable stream position.
#include "nf/data/sampler.h"

#include "nf/core/error.h"

namespace nf::data {
namespace {

// splitmix64's finalizer: a well-mixed 64-bit hash, fully specified.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

SamplePermutation::SamplePermutation(uint64_t size, uint64_t seed, uint64_t epoch, bool shuffle)
    : size_(size), shuffle_(shuffle) {
  NF_CHECK(size > 0, Error, "SamplePermutation: empty domain");
  unsigned bits = 2;
  while (bits < 64 && (uint64_t{1} << bits) < size) bits += 2;
  half_bits_ = bits / 2;
  half_mask_ = (uint64_t{1} << half_bits_) - 1;
  for (uint64_t round = 0; round < 4; ++round) keys_[round] = mix(mix(seed) ^ mix(epoch + 0x5151 * (round + 1)));
}

uint64_t SamplePermutation::encrypt(uint64_t value) const {
  uint64_t left = value >> half_bits_;
  uint64_t right = value & half_mask_;
  for (uint64_t key : keys_) {
    const uint64_t next = left ^ (mix(right ^ key) & half_mask_);
    left = right;
    right = next;
  }
  return (left << half_bits_) | right;
}

uint64_t SamplePermutation::operator()(uint64_t index) const {
  NF_CHECK(index < size_, Error, "SamplePermutation: index ", index, " >= size ", size_);
  if (!shuffle_) return index;
  // Cycle walking: the network permutes [0, 4^half_bits) ⊇ [0, size); re-encrypt until the value
  // falls inside. The domain is < 4·size, so this takes under 4 steps on average.
  uint64_t value = encrypt(index);
  while (value >= size_) value = encrypt(value);
  return value;
}

uint64_t sample_at(uint64_t position, uint64_t num_samples, uint64_t seed, bool shuffle) {
  return SamplePermutation(num_samples, seed, position / num_samples, shuffle)(position % num_samples);
}

uint64_t rank_slice_start(uint64_t consumed_samples, uint64_t global_batch_size, int dp_rank, int dp_size) {
  NF_CHECK(dp_size > 0 && global_batch_size % static_cast<uint64_t>(dp_size) == 0, UsageError, "global batch size ",
           global_batch_size, " is not divisible by dp(", dp_size, ")");
  NF_CHECK(dp_rank >= 0 && dp_rank < dp_size, UsageError, "dp rank ", dp_rank, " is outside [0, ", dp_size, ")");
  return consumed_samples + static_cast<uint64_t>(dp_rank) * (global_batch_size / static_cast<uint64_t>(dp_size));
}

nlohmann::json loader_state_to_json(const LoaderState& state) {
  return {{"consumed_samples", state.consumed_samples},
          {"epoch", state.epoch()},
          {"sample_in_epoch", state.sample_in_epoch()},
          {"num_samples", state.num_samples},
          {"seq_len", state.seq_len},
          {"seed", state.seed}};
}

LoaderState loader_state_from_json(const nlohmann::json& json, const std::string& source) {
  LoaderState state;
  for (const char* key : {"consumed_samples", "num_samples", "seq_len", "seed"}) {
    NF_CHECK(json.contains(key), DataError, source, ": data loader state has no key '", key, "'");
    // Converting a float such as 1e300 would be undefined behaviour.
    NF_CHECK(json.at(key).is_number_integer(), DataError, source, ": data loader state key '", key, "' is ",
             json.at(key).dump(), ", not an integer");
  }
  state.consumed_samples = json.at("consumed_samples").get<uint64_t>();
  state.num_samples = json.at("num_samples").get<uint64_t>();
  state.seq_len = json.at("seq_len").get<int64_t>();
  state.seed = json.at("seed").get<uint64_t>();
  return state;
}

}  // namespace nf::data
