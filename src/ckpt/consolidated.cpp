// The consolidated checkpoint form, and writing it at save time by gathering tensor by tensor
// (consolidated.h).
//
// Every rank first declares, per parameter, the piece it will send (its tp slice from dp rank 0;
// under ZeRO its run of the slice's moments); the declarations are all-gathered, so every rank
// derives the same plan. Each rank then posts all its sends at once (non-blocking, of views of its
// own state), and each writer walks its file's tensors in order, receiving their pieces in a fixed
// order (tp slice, then offset). Messages between two ranks arrive in the order sent, and a rank
// sends to each writer the pieces of one file only, in that file's order, so the receives match
// the sends one by one; with every send posted up front nothing waits but on a writer's progress,
// and the two writers (world rank 0: the model file, the last rank: the optimizer file) write at
// the same time.
#include "nf/ckpt/consolidated.h"

#include <ATen/ATen.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "checkpoint_files.h"
#include "nf/ckpt/safetensors_stream.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/dist/p2p_tags.h"
#include "nf/model/sharding.h"

namespace nf::ckpt {
namespace {

constexpr int kPieceTag = dist::p2p_tags::kCheckpointPiece;

// A rank's declaration about one parameter: one row of int64 fields.
enum Field : int64_t {
  kTpIndex,          // the tp slice it holds, -1: it holds none of the parameter
  kValueSource,      // 1: it sends its slice of the value (dp rank 0; tp rank 0 of a replicated one)
  kValueDtype,       // the value's at::ScalarType
  kOptimizerOffset,  // the first element of its moments' piece within the slice
  kOptimizerNumel,   // the piece's size, 0: it sends no moments
  kFields
};

// The tensors of a consolidated file that come from one parameter.
enum class Part { kValue, kExpAvg, kExpAvgSq };
constexpr Part kMoments[] = {Part::kExpAvg, Part::kExpAvgSq};
const char* suffix(Part part) {
  return part == Part::kExpAvg ? ".exp_avg" : part == Part::kExpAvgSq ? ".exp_avg_sq" : "";
}

// Where one of a tensor's pieces comes from.
struct Piece {
  int rank = 0;
  int64_t tp_index = 0;
  int64_t offset = 0;  // within the tp slice, flattened
  int64_t numel = 0;   // -1: the whole slice
};

class Gatherer {
 public:
  Gatherer(const RankShards& shards, bool zero, const model::ModelConfig& config, const dist::Mesh& mesh)
      : shards_(shards), zero_(zero), layout_(consolidated_model(config)), mesh_(mesh), world_(mesh.world()) {
    for (const auto& [name, tensor] : shards.model) held_[name] = tensor;
    for (const auto& [name, tensor] : shards.optimizer) optimizer_[name] = tensor;
    if (zero) pieces_ = parse_zero_pieces(shards.optimizer_metadata, "this rank's optimizer state");
    declare();
  }

  // Posts every send of this rank's pieces: values to `value_writer`, moments to `moment_writer`,
  // in their files' order. The caller waits on them after writing its own file.
  std::vector<std::unique_ptr<dist::Work>> post_sends(int value_writer, int moment_writer) {
    std::vector<std::unique_ptr<dist::Work>> sends;
    const auto send = [&](size_t p, Part part, int writer) {
      if (writer == world_.rank()) return;  // the writer copies its own pieces
      for (const Piece& piece : sources(p, part))
        if (piece.rank == world_.rank()) sends.push_back(world_.send(local(p, part, piece), writer, kPieceTag));
    };
    for (size_t p = 0; p < size(); ++p) send(p, Part::kValue, value_writer);
    for (size_t p = 0; p < size(); ++p)
      for (Part part : kMoments) send(p, part, moment_writer);
    return sends;
  }

  // The model file: every parameter whole. Returns the bytes written.
  uint64_t write_values(const std::string& path) {
    std::vector<TensorDeclaration> tensors;
    for (size_t p = 0; p < size(); ++p) tensors.push_back({name(p), value_dtype(p), full_shape(p)});
    SafetensorsStreamWriter file(path, tensors, layout_.metadata);
    uint64_t bytes = 0;
    for (size_t p = 0; p < size(); ++p) bytes += append(file, p, Part::kValue, value_dtype(p));
    write_checksum(path, file.commit());
    return bytes;
  }

  // The optimizer file: "step", then both moments of each parameter. Returns the bytes written.
  uint64_t write_moments(const std::string& path) {
    const at::Tensor step = optimizer_.at("step");
    std::vector<TensorDeclaration> tensors{{"step", step.scalar_type(), step.sizes().vec()}};
    for (size_t p = 0; p < size(); ++p)
      for (Part part : kMoments) tensors.push_back({name(p) + suffix(part), at::kFloat, full_shape(p)});
    SafetensorsStreamWriter file(path, tensors, {});
    file.append("step", step);
    uint64_t bytes = step.nbytes();
    for (size_t p = 0; p < size(); ++p)
      for (Part part : kMoments) bytes += append(file, p, part, at::kFloat);
    write_checksum(path, file.commit());
    return bytes;
  }

 private:
  size_t size() const { return layout_.parameters.size(); }
  const std::string& name(size_t p) const { return layout_.parameters[p].name; }
  const std::vector<int64_t>& full_shape(size_t p) const { return layout_.parameters[p].full_shape; }
  int64_t field(int rank, size_t p, Field f) const { return declarations_[(rank * size() + p) * kFields + f]; }
  at::ScalarType value_dtype(size_t p) const {
    for (int r = 0; r < world_.size(); ++r)
      if (field(r, p, kValueSource) == 1) return static_cast<at::ScalarType>(field(r, p, kValueDtype));
    throw CheckpointError("consolidating a checkpoint: no rank holds parameter '" + name(p) + "'");
  }

  // Every rank's declarations about every parameter, all-gathered: [world][parameter][Field].
  void declare() {
    at::Tensor mine = at::zeros({static_cast<int64_t>(size()), kFields}, at::kLong);
    auto rows = mine.accessor<int64_t, 2>();
    const dist::MeshCoords& c = mesh_.coords();
    for (size_t p = 0; p < size(); ++p) {
      auto row = rows[static_cast<int64_t>(p)];
      row[kTpIndex] = -1;
      const auto held = held_.find(name(p));
      if (held == held_.end()) continue;
      const parallel::tp::ShardSpec spec =
          parse_shard_metadata(shards_.model_metadata.at("shard." + name(p)), "parameter '" + name(p) + "'");
      const bool first_copy = !spec.replicated() || c.tp == 0;  // a replicated tensor is taken from tp rank 0
      row[kTpIndex] = spec.replicated() ? 0 : spec.index;
      row[kValueSource] = c.dp == 0 && first_copy;
      row[kValueDtype] = static_cast<int64_t>(held->second.scalar_type());
      if (zero_) {
        const auto piece = pieces_.find(name(p));
        if (piece == pieces_.end() || !first_copy) continue;
        row[kOptimizerOffset] = piece->second.param_offset;
        row[kOptimizerNumel] = piece->second.numel;
      } else if (c.dp == 0 && first_copy) {
        row[kOptimizerNumel] = held->second.numel();
      }
    }
    at::Tensor all = mine.reshape({-1});
    if (world_.size() > 1) {
      all = at::empty({world_.size() * mine.numel()}, at::kLong);
      world_.all_gather(mine.reshape({-1}), all)->wait();
    }
    declarations_.assign(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + all.numel());
  }

  // Who sends a part of parameter p, ordered by tp slice and offset.
  std::vector<Piece> sources(size_t p, Part part) const {
    const bool moment = part != Part::kValue;
    std::vector<Piece> out;
    for (int r = 0; r < world_.size(); ++r) {
      if (moment ? field(r, p, kOptimizerNumel) == 0 : field(r, p, kValueSource) == 0) continue;
      out.push_back({r, field(r, p, kTpIndex), moment ? field(r, p, kOptimizerOffset) : 0,
                     moment ? field(r, p, kOptimizerNumel) : -1});
    }
    std::sort(out.begin(), out.end(), [](const Piece& a, const Piece& b) {
      return std::tie(a.tp_index, a.offset) < std::tie(b.tp_index, b.offset);
    });
    return out;
  }

  // This rank's piece of a part of parameter p: contiguous, on the host; moments in fp32.
  at::Tensor local(size_t p, Part part, const Piece& piece) const {
    if (part == Part::kValue) return held_.at(name(p)).detach().cpu().contiguous();
    const std::string moment = std::string(suffix(part)).substr(1);  // "exp_avg", "exp_avg_sq"
    const at::Tensor state =
        zero_ ? optimizer_.at(moment).detach().narrow(0, pieces_.at(name(p)).shard_offset, piece.numel)
              : optimizer_.at(name(p) + suffix(part)).detach().reshape({-1});
    return state.cpu().to(at::kFloat).contiguous();
  }

  // Receives (or copies) the pieces of a part of parameter p into the whole tensor and appends it
  // to `file`: each tp slice is filled piece by piece, then put in place, and the vocabulary's
  // padding rows are dropped. Returns its bytes.
  uint64_t append(SafetensorsStreamWriter& file, size_t p, Part part, at::ScalarType dtype) {
    const std::string tensor_name = name(p) + suffix(part);
    const int64_t tp = mesh_.shape().tp();
    parallel::tp::ShardSpec spec = layout_.parameters[p].spec;  // tp slice `index`: {dim, index, tp, full, padded}
    std::vector<int64_t> padded_shape = full_shape(p);
    if (!spec.replicated()) {
      spec.count = tp;
      spec.padded_full_size = parallel::tp::padded_size(spec.full_size, tp);
      padded_shape.at(spec.dim) = spec.padded_full_size;
    }
    at::Tensor full = at::empty(padded_shape, dtype);
    const std::vector<Piece> pieces = sources(p, part);
    int64_t covered = 0;
    for (size_t i = 0; i < pieces.size();) {
      spec.index = pieces[i].tp_index;
      at::Tensor slice = spec.replicated() ? full : full.narrow(spec.dim, spec.offset(), spec.shard_size());
      at::Tensor buffer = slice.is_contiguous() ? slice : at::empty(slice.sizes(), dtype);
      int64_t filled = 0;
      for (; i < pieces.size() && pieces[i].tp_index == spec.index; ++i) {
        const Piece& piece = pieces[i];
        const int64_t numel = piece.numel < 0 ? buffer.numel() : piece.numel;
        at::Tensor target = buffer.view({-1}).narrow(0, piece.offset, numel);
        if (piece.rank == world_.rank()) {
          target.copy_(local(p, part, piece).view({-1}));
        } else {
          world_.recv(target, piece.rank, kPieceTag)->wait();
        }
        filled += numel;
      }
      NF_CHECK(filled == buffer.numel(), CheckpointError, "consolidating '", tensor_name,
               "': the ranks' pieces of tp slice ", spec.index, " hold ", filled, " of its ", buffer.numel(),
               " elements");
      if (!buffer.is_same(slice)) slice.copy_(buffer);
      covered += buffer.numel();
    }
    NF_CHECK(covered == full.numel(), CheckpointError, "consolidating '", tensor_name, "': the ranks' pieces hold ",
             covered, " of its ", full.numel(), " elements (padding included)");
    const at::Tensor whole = spec.replicated() ? full : full.narrow(spec.dim, 0, spec.full_size);
    file.append(tensor_name, whole);
    return whole.nbytes();
  }

  const RankShards& shards_;
  bool zero_;
  ConsolidatedModel layout_;
  const dist::Mesh& mesh_;
  dist::Communicator& world_;
  std::map<std::string, at::Tensor> held_, optimizer_;
  std::map<std::string, ZeroPiece> pieces_;
  std::vector<int64_t> declarations_;  // [world][parameter][Field]
};

}  // namespace

std::string consolidated_config(const std::string& config_yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(config_yaml);
  } catch (const YAML::Exception& e) {
    throw CheckpointError("checkpoint config '" + source + "' is not valid YAML: " + e.what(),
                          "consolidate another step directory");
  }
  NF_CHECK(root.IsMap(), CheckpointError, "checkpoint config '", source, "' is not a mapping of sections");
  YAML::Node parallel = root["parallel"];
  parallel["tp"] = 1;
  parallel["pp"] = 1;
  parallel["dp"] = 0;
  parallel["zero"] = 0;
  parallel["pp_layers"] = YAML::Node(YAML::NodeType::Sequence);
  YAML::Emitter out;
  out << root;
  return std::string("# resolved by NeuralFlow, consolidated: the run's config laid out as one rank\n") + out.c_str() +
         "\n";
}

CheckpointMeta consolidated_meta(CheckpointMeta meta) {
  meta.tp = meta.pp = meta.dp = 1;
  meta.zero = 0;
  return meta;
}

ConsolidatedModel consolidated_model(const model::ModelConfig& config) {
  ConsolidatedModel out;
  for (const auto& [name, shape] : model::trainable_table(config)) {
    out.parameters.push_back({name, shape, model::shard_spec_of(config, name, nullptr)});
    out.metadata["shard." + name] = shard_metadata(out.parameters.back().spec);
  }
  return out;
}

uint64_t write_consolidated_files(const std::string& staging_dir, const RankShards& shards, bool zero,
                                  const model::ModelConfig& config, const std::string& config_yaml,
                                  const dist::Mesh& mesh) {
  Gatherer gatherer(shards, zero, config, mesh);
  const int rank = mesh.world().rank(), value_writer = 0, moment_writer = mesh.world().size() - 1;
  std::vector<std::unique_ptr<dist::Work>> sends = gatherer.post_sends(value_writer, moment_writer);
  uint64_t bytes = 0;
  if (rank == value_writer) {
    bytes += gatherer.write_values(staging_dir + "/" + model_file(0, 0));
    write_file_atomic(staging_dir + "/" + kConfigFile, consolidated_config(config_yaml, "the job's config"));
  }
  if (rank == moment_writer) bytes += gatherer.write_moments(staging_dir + "/" + optimizer_file(0, 0, 0));
  for (auto& send : sends) send->wait();
  return bytes;
}

}  // namespace nf::ckpt
