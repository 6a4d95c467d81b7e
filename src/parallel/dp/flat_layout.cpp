// FlatLayout (flat_layout.h): reverse-order bucketing, per-bucket padding and shard segments.
#include "nf/parallel/dp/flat_layout.h"

#include <algorithm>

#include "nf/core/error.h"

namespace nf::parallel::dp {

FlatLayout::FlatLayout(const std::vector<std::pair<std::string, std::vector<int64_t>>>& parameters,
                       int64_t bucket_numel, int dp_size, const std::vector<std::string>& units)
    : dp_size_(dp_size) {
  NF_CHECK(bucket_numel >= 1, UsageError, "flat layout: bucket size must be at least one element, got ", bucket_numel,
           " (parallel.bucket_mb)");
  NF_CHECK(dp_size >= 1, UsageError, "flat layout: dp size must be at least 1, got ", dp_size);
  NF_CHECK(!parameters.empty(), UsageError, "flat layout: no parameters to lay out");
  NF_CHECK(units.empty() || units.size() == parameters.size(), UsageError, "flat layout: ", units.size(), " units for ",
           parameters.size(), " parameters");
  for (const auto& [name, shape] : parameters) {
    ParamSlot slot;
    slot.name = name;
    slot.shape = shape;
    slot.numel = 1;
    for (int64_t extent : shape) slot.numel *= extent;
    slots_.push_back(std::move(slot));
  }
  const auto close_bucket = [&](Bucket& bucket) {
    const int64_t used = bucket.numel;
    bucket.numel = (used + dp_size - 1) / dp_size * dp_size;
    bucket.offset = total_numel_;
    int64_t position = bucket.offset;
    for (size_t index : bucket.slots) {
      slots_[index].offset = position;
      slots_[index].bucket = static_cast<int>(buckets_.size());
      position += slots_[index].numel;
    }
    bucket.shard_offset = total_numel_ / dp_size;
    total_numel_ += bucket.numel;
    buckets_.push_back(std::move(bucket));
  };
  Bucket current;
  std::vector<std::string> closed_units;
  for (size_t i = slots_.size(); i-- > 0;) {
    if (slots_[i].numel == 0) continue;  // nothing to reduce; keeps buckets non-empty
    if (!units.empty() && !current.slots.empty() && units[i] != current.unit) {
      closed_units.push_back(current.unit);
      close_bucket(current);
      current = Bucket();
    }
    if (!units.empty()) {
      NF_CHECK(std::find(closed_units.begin(), closed_units.end(), units[i]) == closed_units.end(), UsageError,
               "flat layout: the parameters of unit '", units[i], "' are not adjacent ('", slots_[i].name, "')");
      current.unit = units[i];
    }
    current.slots.push_back(i);
    current.numel += slots_[i].numel;
    if (units.empty() && current.numel >= bucket_numel) {
      close_bucket(current);
      current = Bucket();
    }
  }
  if (!current.slots.empty()) close_bucket(current);
  NF_CHECK(!buckets_.empty(), UsageError, "flat layout: every parameter is empty");
}

int64_t FlatLayout::chunk_offset(size_t bucket, int rank) const {
  const Bucket& b = buckets_.at(bucket);
  return b.offset + rank * b.chunk_numel(dp_size_);
}

std::vector<ShardSegment> FlatLayout::shard_segments(int rank) const {
  std::vector<ShardSegment> segments;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const int64_t chunk = buckets_[b].chunk_numel(dp_size_);
    const int64_t begin = chunk_offset(b, rank), end = begin + chunk;
    for (size_t index : buckets_[b].slots) {
      const ParamSlot& slot = slots_[index];
      const int64_t lo = std::max(begin, slot.offset), hi = std::min(end, slot.offset + slot.numel);
      if (lo >= hi) continue;
      segments.push_back({index, lo - slot.offset, buckets_[b].shard_offset + (lo - begin), hi - lo});
    }
  }
  return segments;
}

int64_t bucket_numel_for(double bucket_mb, int64_t element_size) {
  NF_CHECK(bucket_mb > 0, ConfigError, "parallel.bucket_mb must be positive, got ", bucket_mb);
  return std::max<int64_t>(1, static_cast<int64_t>(bucket_mb * 1024.0 * 1024.0) / element_size);
}

}  // namespace nf::parallel::dp
