// Where each parameter lives in the data-parallel flat buffers, as pure arithmetic (no tensors, no
// communication), so the layout is unit-tested in one process.
//
// Parameters are laid out in REVERSE registration order, because backward produces gradients
// roughly from the last layer to the first: the first bucket fills first and its reduction can
// start while backward is still running. Buckets are cut at parameter boundaries once they hold
// at least `bucket_numel` elements (a parameter larger than that gets a bucket of its own), and
// each bucket is padded with zeros to a multiple of dp.
//
// Sharding (ZeRO-1/2) is per bucket: bucket b of padded size n is split into dp chunks of n/dp
// elements and rank r owns chunk r of every bucket. A rank's shard is the concatenation of its
// chunks, i.e. 1/dp of the (padded) flat buffer. Per-bucket chunks, rather than one contiguous
// 1/dp range of the whole buffer, let each bucket's reduce_scatter / all_gather be a plain
// equal-chunk collective that starts as soon as that bucket is ready (as Megatron's distributed
// optimizer does).
//
// Units (ZeRO-3): given each parameter's unit (a decoder layer, the embedding, the head), buckets
// are cut at unit boundaries instead of by size, one bucket per unit, so that a unit's
// parameters are gathered and freed as one buffer (zero3.h). A unit's parameters must be adjacent
// in registration order.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nf::parallel::dp {

struct ParamSlot {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel = 0;
  int64_t offset = 0;  // in the flat buffer
  int bucket = 0;
};

struct Bucket {
  int64_t offset = 0;         // in the flat buffer
  int64_t numel = 0;          // padded to a multiple of dp
  int64_t shard_offset = 0;   // where this bucket's chunk starts in a rank's shard
  std::vector<size_t> slots;  // parameters in the bucket (indices into slots()), layout order
  std::string unit;           // with units: the unit the bucket holds
  int64_t chunk_numel(int dp_size) const { return numel / dp_size; }
};

// A run of one parameter's elements inside a rank's shard.
struct ShardSegment {
  size_t slot = 0;
  int64_t param_offset = 0;  // first element within the (flattened) parameter
  int64_t shard_offset = 0;  // where it sits in the rank's shard
  int64_t numel = 0;
};

class FlatLayout {
 public:
  // `parameters`: (name, shape) in registration order. bucket_numel ≥ 1, dp_size ≥ 1. `units`:
  // empty, or each parameter's unit (then bucket_numel is not used).
  FlatLayout(const std::vector<std::pair<std::string, std::vector<int64_t>>>& parameters, int64_t bucket_numel,
             int dp_size, const std::vector<std::string>& units = {});

  // Registration order, as given.
  const std::vector<ParamSlot>& slots() const { return slots_; }
  // Layout order: bucket 0 holds the last-registered parameters.
  const std::vector<Bucket>& buckets() const { return buckets_; }
  int dp_size() const { return dp_size_; }
  int64_t total_numel() const { return total_numel_; }  // padded
  int64_t shard_numel() const { return total_numel_ / dp_size_; }
  // Offset in the flat buffer of rank's chunk of bucket b.
  int64_t chunk_offset(size_t bucket, int rank) const;
  // The parameter pieces inside `rank`'s shard, in shard order (padding is in none of them).
  std::vector<ShardSegment> shard_segments(int rank) const;

 private:
  std::vector<ParamSlot> slots_;
  std::vector<Bucket> buckets_;
  int dp_size_;
  int64_t total_numel_ = 0;
};

// Elements per bucket for a bucket size in MiB (parallel.bucket_mb) and an element size in bytes.
int64_t bucket_numel_for(double bucket_mb, int64_t element_size);

}  // namespace nf::parallel::dp
