// Shard metadata, the resharding plan and ZeRO pieces (checkpoint_layout.h).
#include "nf/ckpt/checkpoint_layout.h"

#include <sstream>

#include "nf/core/error.h"

namespace nf::ckpt {
namespace {

// Parses "a b c ..." as exactly `count` integers into `out`; false when the text is anything else.
bool parse_integers(const std::string& text, std::vector<int64_t>& out, size_t count) {
  std::istringstream in(text);
  out.assign(count, 0);
  for (int64_t& value : out) {
    if (!(in >> value)) return false;
  }
  std::string rest;
  return !(in >> rest);
}

// The full shape of a saved tensor: its shard shape with the split dim at full size.
std::vector<int64_t> full_shape_of(const SavedTensor& saved) {
  std::vector<int64_t> shape = saved.shard_shape;
  if (!saved.spec.replicated()) shape.at(saved.spec.dim) = saved.spec.full_size;
  return shape;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

std::string shard_metadata(const parallel::tp::ShardSpec& spec) {
  return std::to_string(spec.dim) + " " + std::to_string(spec.index) + " " + std::to_string(spec.count) + " " +
         std::to_string(spec.full_size);
}

parallel::tp::ShardSpec parse_shard_metadata(const std::string& value, const std::string& source) {
  std::vector<int64_t> fields;
  const bool ok = parse_integers(value, fields, 4) && fields[0] >= -1 && fields[1] >= 0 && fields[2] >= 1 &&
                  fields[1] < fields[2] && fields[3] >= 0;
  NF_CHECK(ok, CheckpointError, source, ": shard metadata \"", value,
           "\" is not \"dim index count full_size\" (dim ≥ -1, 0 ≤ index < count, full_size ≥ 0)");
  parallel::tp::ShardSpec spec;
  spec.dim = fields[0];
  spec.index = fields[1];
  spec.count = fields[2];
  spec.full_size = spec.replicated() ? 0 : fields[3];
  spec.padded_full_size = spec.replicated() ? 0 : parallel::tp::padded_size(spec.full_size, spec.count);
  return spec;
}

std::vector<ShardRead> plan_shard_reads(const std::vector<SavedTensor>& saved, int64_t saved_tp,
                                        const std::vector<ParameterShard>& targets, const std::string& source) {
  std::map<std::string, const SavedTensor*> by_name;
  for (const SavedTensor& tensor : saved) by_name[tensor.name] = &tensor;
  std::map<std::pair<int64_t, int64_t>, std::vector<RowCopy>> reads;  // (pp, tp) -> copies
  for (size_t i = 0; i < targets.size(); ++i) {
    const ParameterShard& target = targets[i];
    const auto found = by_name.find(target.name);
    NF_CHECK(found != by_name.end(), CheckpointError, "'", source, "' has no tensor '", target.name,
             "' in its model files; the checkpoint is of another model");
    const SavedTensor& tensor = *found->second;
    NF_CHECK(full_shape_of(tensor) == target.full_shape, CheckpointError, "'", source, "': tensor '", target.name,
             "' has the full shape ", shape_text(full_shape_of(tensor)), " but the model's is ",
             shape_text(target.full_shape));
    NF_CHECK(tensor.spec.dim == target.spec.dim, CheckpointError, "'", source, "': tensor '", target.name,
             "' is split along dim ", tensor.spec.dim, " but the model splits it along dim ", target.spec.dim,
             " (-1: not split)");
    if (target.spec.replicated()) {
      const int64_t tp = target.spec.index * saved_tp / target.spec.count;
      reads[{tensor.stage, tp}].push_back({i, -1, 0, 0, 0});
      continue;
    }
    for (const parallel::tp::ShardOverlap& overlap : parallel::tp::shard_overlaps(target.spec, saved_tp)) {
      reads[{tensor.stage, overlap.source_index}].push_back(
          {i, target.spec.dim, overlap.source_offset, overlap.target_offset, overlap.size});
    }
  }
  std::vector<ShardRead> plan;
  for (auto& [coordinate, copies] : reads) plan.push_back({coordinate.second, coordinate.first, std::move(copies)});
  return plan;
}

Metadata zero_piece_metadata(const parallel::dp::FlatLayout& layout, int dp_rank) {
  Metadata metadata;
  for (const parallel::dp::ShardSegment& segment : layout.shard_segments(dp_rank)) {
    metadata["piece." + layout.slots()[segment.slot].name] = std::to_string(segment.shard_offset) + " " +
                                                             std::to_string(segment.param_offset) + " " +
                                                             std::to_string(segment.numel);
  }
  return metadata;
}

std::map<std::string, ZeroPiece> parse_zero_pieces(const Metadata& metadata, const std::string& source) {
  static const std::string kPrefix = "piece.";
  std::map<std::string, ZeroPiece> pieces;
  for (const auto& [key, value] : metadata) {
    if (key.rfind(kPrefix, 0) != 0) continue;
    std::vector<int64_t> fields;
    const bool ok = parse_integers(value, fields, 3) && fields[0] >= 0 && fields[1] >= 0 && fields[2] >= 1;
    NF_CHECK(ok, CheckpointError, source, ": metadata ", key, " = \"", value,
             "\" is not \"shard_offset param_offset numel\" (numel ≥ 1)");
    pieces[key.substr(kPrefix.size())] = {fields[0], fields[1], fields[2]};
  }
  return pieces;
}

}  // namespace nf::ckpt
