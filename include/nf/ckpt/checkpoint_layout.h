// How the pieces of a training checkpoint map onto tensors, as pure arithmetic (no files, no
// communication), so that resharding is unit-tested in one process:
//  - "shard.<name>" = "dim index count full_size", the metadata of a model file, says which
//    tensor-parallel slice of the full tensor it holds (shard_metadata / parse_shard_metadata);
//  - plan_shard_reads: which saved (tp, pp) files a rank must read for the parameters it holds in
//    another layout, and which rows of each saved shard land where in its own shards. A file that
//    holds none of them is not in the plan, so a rank never reads another stage's files;
//  - "piece.<name>" = "shard_offset param_offset numel", the metadata of a ZeRO optimizer file:
//    the file's flat tensors are the rank's chunk of every bucket (parallel/dp/flat_layout.h), and
//    each piece says which elements of which parameter a run of them holds, so a reader rebuilds
//    per-parameter state without re-deriving the saved run's buckets.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nf/ckpt/safetensors.h"
#include "nf/parallel/dp/flat_layout.h"
#include "nf/parallel/tp/shard.h"

namespace nf::ckpt {

// The metadata value "dim index count full_size" of a shard, and back (padded_full_size follows
// from them: split_spec pads to a multiple of count, and a split without padding divides evenly).
// CheckpointError naming `source` for a malformed value.
std::string shard_metadata(const parallel::tp::ShardSpec& spec);
parallel::tp::ShardSpec parse_shard_metadata(const std::string& value, const std::string& source);

// A tensor as a checkpoint's model files hold it: the pipeline stage whose files have it, its
// tensor-parallel split (the spec of tp shard 0) and the shape and dtype of one shard.
struct SavedTensor {
  std::string name;
  int64_t stage = 0;
  parallel::tp::ShardSpec spec;
  std::vector<int64_t> shard_shape;
  at::ScalarType dtype = at::kFloat;
};

// A tensor a rank holds: its name, full (Hugging Face) shape, and which slice of it the rank has.
struct ParameterShard {
  std::string name;
  std::vector<int64_t> full_shape;
  parallel::tp::ShardSpec spec;
};

// Copy `size` rows along `dim` of a saved shard, from row `source_offset`, to row `target_offset`
// of targets[target]; dim -1 copies the whole (replicated) tensor.
struct RowCopy {
  size_t target = 0;
  int64_t dim = -1;
  int64_t source_offset = 0, target_offset = 0, size = 0;
};

// What to take from the files of one saved (tp, pp) coordinate.
struct ShardRead {
  int64_t tp = 0, pp = 0;
  std::vector<RowCopy> copies;
};

// The reads, ordered by (pp, tp), that fill every target from `saved` (a checkpoint written with
// `saved_tp` tensor-parallel shards). A replicated tensor is read once, from the saved shard whose
// slice of the tp axis contains the target's. CheckpointError naming `source` and the tensor when
// a target is not in the checkpoint, or its full shape or split differs from the saved one.
std::vector<ShardRead> plan_shard_reads(const std::vector<SavedTensor>& saved, int64_t saved_tp,
                                        const std::vector<ParameterShard>& targets, const std::string& source);

// One run of a parameter's (flattened) elements inside a ZeRO rank's flat optimizer shard.
struct ZeroPiece {
  int64_t shard_offset = 0;  // where the run starts in the flat tensors of the file
  int64_t param_offset = 0;  // its first element within the parameter
  int64_t numel = 0;
};

// "piece.<name>" for every parameter piece in `dp_rank`'s shard of `layout` (a parameter has at
// most one piece per rank: it lies in one bucket, and a rank's chunk of a bucket is contiguous).
Metadata zero_piece_metadata(const parallel::dp::FlatLayout& layout, int dp_rank);
// The pieces recorded in an optimizer file's metadata, by parameter name; CheckpointError naming
// `source` and the key for a malformed value.
std::map<std::string, ZeroPiece> parse_zero_pieces(const Metadata& metadata, const std::string& source);

}  // namespace nf::ckpt
