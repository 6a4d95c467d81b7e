// Cutting a full tensor into tensor-parallel shards and reassembling it (shard.h).
#include "nf/parallel/tp/shard.h"

#include <algorithm>

#include "nf/core/error.h"

namespace nf::parallel::tp {

int64_t ShardSpec::valid_size() const { return std::clamp<int64_t>(full_size - offset(), 0, shard_size()); }

int64_t padded_size(int64_t size, int64_t count) { return (size + count - 1) / count * count; }

ShardSpec split_spec(int64_t dim, int64_t full_size, const dist::Communicator* tp, bool pad) {
  ShardSpec spec;
  spec.dim = dim;
  spec.index = tp ? tp->rank() : 0;
  spec.count = tp ? tp->size() : 1;
  spec.full_size = full_size;
  spec.padded_full_size = pad ? padded_size(full_size, spec.count) : full_size;
  NF_CHECK(spec.padded_full_size % spec.count == 0, ConfigError, "tensor parallelism: a dimension of size ", full_size,
           " is not divisible by parallel.tp (", spec.count, ")");
  return spec;
}

std::vector<int64_t> shard_shape(c10::IntArrayRef full_shape, const ShardSpec& spec) {
  std::vector<int64_t> shape(full_shape.begin(), full_shape.end());
  if (!spec.replicated()) shape.at(spec.dim) = spec.shard_size();
  return shape;
}

torch::Tensor take_shard(const torch::Tensor& full, const ShardSpec& spec) {
  if (spec.replicated()) return full.detach().clone();
  NF_CHECK(full.size(spec.dim) == spec.full_size, UsageError, "take_shard: tensor of size ", full.size(spec.dim),
           " along dim ", spec.dim, ", the shard spec expects ", spec.full_size);
  torch::Tensor out = torch::zeros(shard_shape(full.sizes(), spec), full.options());
  const int64_t rows = spec.valid_size();
  if (rows > 0) out.narrow(spec.dim, 0, rows).copy_(full.detach().narrow(spec.dim, spec.offset(), rows));
  return out;
}

torch::Tensor gather_full(const torch::Tensor& shard, const ShardSpec& spec, dist::Communicator& tp) {
  if (spec.replicated()) return shard.detach().clone();
  if (spec.count == 1) return shard.detach().narrow(spec.dim, 0, spec.full_size).clone();
  // all_gather concatenates along the (flattened) first dimension, so gather with dim moved first.
  const torch::Tensor local = shard.detach().transpose(0, spec.dim).contiguous();
  std::vector<int64_t> shape(local.sizes().begin(), local.sizes().end());
  shape[0] *= spec.count;
  torch::Tensor gathered = torch::empty(shape, local.options());
  tp.all_gather(local, gathered)->wait();
  return gathered.narrow(0, 0, spec.full_size).transpose(0, spec.dim).contiguous();
}

std::vector<ShardOverlap> shard_overlaps(const ShardSpec& target, int64_t source_count) {
  NF_CHECK(!target.replicated() && source_count >= 1, UsageError, "shard_overlaps: needs a split target (dim ",
           target.dim, ") and at least one source shard (", source_count, ")");
  // A split without padding divides evenly, so padded_size() gives every source's shard size.
  const int64_t source_size = padded_size(target.full_size, source_count) / source_count;
  const int64_t begin = target.offset(), end = begin + target.valid_size();
  std::vector<ShardOverlap> overlaps;
  for (int64_t source = begin / std::max<int64_t>(source_size, 1); source < source_count && begin < end; ++source) {
    const int64_t source_begin = source * source_size;
    const int64_t lo = std::max(begin, source_begin), hi = std::min(end, source_begin + source_size);
    if (lo >= hi) break;
    overlaps.push_back({source, lo - source_begin, lo - begin, hi - lo});
  }
  return overlaps;
}

}  // namespace nf::parallel::tp
