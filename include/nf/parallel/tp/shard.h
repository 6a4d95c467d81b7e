// How one tensor is split across the ranks of a tensor-parallel group: a contiguous block along one
// dimension, the full size optionally padded (with zeros) so that the group size divides it. The
// model maps each parameter name to a ShardSpec (nf/model/sharding.h); initialization and the
// checkpoint code use take_shard / gather_full with it to move between full and sharded tensors.
#pragma once

#include <torch/types.h>

#include <vector>

#include "nf/dist/communicator.h"

namespace nf::parallel::tp {

struct ShardSpec {
  int64_t dim = -1;              // the split dimension; -1 = replicated (every rank holds the full tensor)
  int64_t index = 0;             // which shard this rank holds (its tp rank)
  int64_t count = 1;             // number of shards (the tp size)
  int64_t full_size = 0;         // the full tensor's size along dim (the HF layout)
  int64_t padded_full_size = 0;  // full_size rounded up to a multiple of count; rows past full_size are zeros

  bool replicated() const { return dim < 0; }
  int64_t shard_size() const { return padded_full_size / count; }
  // First row (along dim) of the padded full tensor that this shard holds.
  int64_t offset() const { return index * shard_size(); }
  // How many of this shard's rows are real (not padding): [offset, offset + valid_size()).
  int64_t valid_size() const;
};

// `size` rounded up to a multiple of `count`.
int64_t padded_size(int64_t size, int64_t count);

// A ShardSpec for a tensor of `full_size` rows along `dim`, split over `tp` (nullptr = one rank).
// Without `pad`, full_size must divide evenly (ConfigError otherwise).
ShardSpec split_spec(int64_t dim, int64_t full_size, const dist::Communicator* tp, bool pad);

// This rank's shape for a full shape.
std::vector<int64_t> shard_shape(c10::IntArrayRef full_shape, const ShardSpec& spec);

// This rank's block of `full` (padding rows are zeros), as a fresh contiguous tensor.
torch::Tensor take_shard(const torch::Tensor& full, const ShardSpec& spec);

// The full tensor (padding dropped) from every rank's shard; collective over `tp`.
torch::Tensor gather_full(const torch::Tensor& shard, const ShardSpec& spec, dist::Communicator& tp);

// Rows of one shard that another split of the same tensor holds: `size` rows along the split dim,
// from row `source_offset` of source shard `source_index` to row `target_offset` of the target.
struct ShardOverlap {
  int64_t source_index = 0;
  int64_t source_offset = 0;
  int64_t target_offset = 0;
  int64_t size = 0;

  bool operator==(const ShardOverlap& other) const {
    return source_index == other.source_index && source_offset == other.source_offset &&
           target_offset == other.target_offset && size == other.size;
  }
};

// Where the real (not padding) rows of shard `target` lie when the same tensor is split into
// `source_count` shards instead (each padded the way split_spec pads, if at all): one overlap per
// source shard that holds some of them, in row order. Pure arithmetic, for resharding checkpoints;
// `target` must be split (not replicated).
std::vector<ShardOverlap> shard_overlaps(const ShardSpec& target, int64_t source_count);

}  // namespace nf::parallel::tp
