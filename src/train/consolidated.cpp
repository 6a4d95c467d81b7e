// The consolidated checkpoint form, and writing it at save time by gathering tensor by tensor
// (consolidated.h).
//
// Every rank first declares, per parameter, the piece it would send (its tp slice from dp rank 0;
// under ZeRO its run of the slice's moments); the declarations are all-gathered, so every rank
// derives the same plan. Then each writer walks its file's tensors in order and receives their
// pieces in a fixed order (tp index, then offset) while every other rank sends its pieces in that
// same order: each sender's sends match the writer's receives one after the other, so nothing
// waits on anything but the writer's progress. The model file is written (rank 0) before any
// rank sends optimizer pieces (to the last rank), so the two writers never wait on each other.
#include "nf/train/consolidated.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "checkpoint_files.h"
#include "nf/ckpt/hf_export.h"
#include "nf/ckpt/safetensors_stream.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/model/sharding.h"

namespace nf::train {
namespace {

constexpr int kPieceTag = 4242;  // two ranks' messages of one tag arrive in the order sent
constexpr const char* kMoments[] = {".exp_avg", ".exp_avg_sq"};

// A rank's declaration about one parameter: one row of int64 fields.
enum Field : int64_t {
  kTpIndex,          // the tp slice it holds, -1: it holds none of the parameter
  kModelSource,      // 1: it sends its slice of the value (dp rank 0; tp rank 0 of a replicated one)
  kModelDtype,       // the value's at::ScalarType
  kOptimizerOffset,  // the first element of its moments' piece within the slice
  kOptimizerNumel,   // the piece's size, 0: it sends no moments
  kFields
};

// Where a tensor's pieces come from.
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

  // Rank `writer` writes the model file at `path`; the others send it their slices.
  uint64_t model_file(int writer, const std::string& path) {
    std::vector<ckpt::TensorDeclaration> tensors;
    for (size_t p = 0; p < layout_.parameters.size(); ++p)
      tensors.push_back({name(p), model_dtype(p), layout_.parameters[p].full_shape});
    return gather_file(writer, path, tensors, layout_.metadata, [&](size_t p, auto&& tensor) {
      tensor(name(p), sources(p, /*moments=*/false), model_dtype(p),
             [&](const Piece&) { return held_.at(name(p)).detach().cpu(); });
    });
  }

  // Rank `writer` writes the optimizer file at `path`: "step", then both moments of each parameter.
  uint64_t optimizer_file(int writer, const std::string& path) {
    const at::Tensor step = optimizer_.at("step");
    std::vector<ckpt::TensorDeclaration> tensors{{"step", step.scalar_type(), step.sizes().vec()}};
    for (size_t p = 0; p < layout_.parameters.size(); ++p)
      for (const char* moment : kMoments) tensors.push_back({name(p) + moment, at::kFloat, layout_.parameters[p].full_shape});
    return gather_file(writer, path, tensors, {}, [&](size_t p, auto&& tensor) {
      for (const char* moment : kMoments) {
        tensor(name(p) + moment, sources(p, /*moments=*/true), at::kFloat,
               [&](const Piece& piece) { return local_moment(p, moment, piece); });
      }
    }, step);
  }

 private:
  const std::string& name(size_t p) const { return layout_.parameters[p].name; }
  int64_t field(int rank, size_t p, Field f) const {
    return declarations_[(static_cast<size_t>(rank) * layout_.parameters.size() + p) * kFields + f];
  }
  at::ScalarType model_dtype(size_t p) const {
    for (int r = 0; r < world_.size(); ++r)
      if (field(r, p, kModelSource) == 1) return static_cast<at::ScalarType>(field(r, p, kModelDtype));
    throw CheckpointError("consolidating a checkpoint: no rank holds parameter '" + name(p) + "'");
  }

  // Every rank's declarations about every parameter, all-gathered: [world, parameters, kFields].
  void declare() {
    const auto n = static_cast<int64_t>(layout_.parameters.size());
    at::Tensor mine = at::zeros({n, kFields}, at::kLong);
    auto rows = mine.accessor<int64_t, 2>();
    const dist::MeshCoords& c = mesh_.coords();
    for (int64_t p = 0; p < n; ++p) {
      auto row = rows[p];
      row[kTpIndex] = -1;
      const auto held = held_.find(name(p));
      if (held == held_.end()) continue;
      const parallel::tp::ShardSpec spec =
          parse_shard_metadata(shards_.model_metadata.at("shard." + name(p)), "parameter '" + name(p) + "'");
      const bool first_copy = !spec.replicated() || c.tp == 0;  // a replicated tensor is taken from tp rank 0
      row[kTpIndex] = spec.replicated() ? 0 : spec.index;
      row[kModelSource] = c.dp == 0 && first_copy;
      row[kModelDtype] = static_cast<int64_t>(held->second.scalar_type());
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
      all = at::empty({world_.size() * n * kFields}, at::kLong);
      world_.all_gather(mine.reshape({-1}), all)->wait();
    }
    declarations_.assign(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + all.numel());
  }

  // Who sends parameter p's value (or its moments), ordered by tp slice and offset.
  std::vector<Piece> sources(size_t p, bool moments) const {
    std::vector<Piece> out;
    for (int r = 0; r < world_.size(); ++r) {
      if (moments ? field(r, p, kOptimizerNumel) == 0 : field(r, p, kModelSource) == 0) continue;
      out.push_back({r, field(r, p, kTpIndex), moments ? field(r, p, kOptimizerOffset) : 0,
                     moments ? field(r, p, kOptimizerNumel) : -1});
    }
    std::sort(out.begin(), out.end(), [](const Piece& a, const Piece& b) {
      return std::tie(a.tp_index, a.offset) < std::tie(b.tp_index, b.offset);
    });
    return out;
  }

  // This rank's piece of a moment of parameter p, flattened, fp32.
  at::Tensor local_moment(size_t p, const char* moment, const Piece& piece) const {
    if (!zero_) return optimizer_.at(name(p) + moment).detach().reshape({-1}).cpu().to(at::kFloat);
    const at::Tensor& flat = optimizer_.at(std::string(moment).substr(1));  // "exp_avg", "exp_avg_sq"
    return flat.detach().narrow(0, pieces_.at(name(p)).shard_offset, piece.numel).cpu().to(at::kFloat);
  }

  // Runs each_parameter(p, tensor) for every parameter, where tensor(name, pieces, dtype, local)
  // assembles one tensor (writer) or sends this rank's piece of it (others).
  template <typename EachParameter>
  uint64_t gather_file(int writer, const std::string& path, const std::vector<ckpt::TensorDeclaration>& tensors,
                       const ckpt::Metadata& metadata, EachParameter each_parameter, const at::Tensor& first = {}) {
    const bool writing = world_.rank() == writer;
    std::optional<ckpt::SafetensorsStreamWriter> file;
    if (writing) file.emplace(path, tensors, metadata);
    if (writing && first.defined()) file->append(tensors.front().name, first);
    uint64_t bytes = 0;
    for (size_t p = 0; p < layout_.parameters.size(); ++p) {
      each_parameter(p, [&](const std::string& tensor_name, const std::vector<Piece>& pieces, at::ScalarType dtype,
                            const auto& local) {
        if (!writing) {
          for (const Piece& piece : pieces) {
            if (piece.rank != world_.rank()) continue;
            const at::Tensor data = local(piece).contiguous();
            world_.send(data, writer, kPieceTag)->wait();
          }
          return;
        }
        const at::Tensor full = assemble(layout_.parameters[p], tensor_name, pieces, dtype, local);
        file->append(tensor_name, full);
        bytes += full.nbytes();
      });
    }
    if (writing) write_checksum(path, file->commit());
    return bytes;
  }

  // The whole tensor from its pieces: each tp slice filled piece by piece, then put in place.
  template <typename Local>
  at::Tensor assemble(const ParameterShard& whole, const std::string& tensor_name, const std::vector<Piece>& pieces,
                      at::ScalarType dtype, const Local& local) {
    const int64_t tp = mesh_.shape().tp();
    parallel::tp::ShardSpec spec = whole.spec;  // the slice of tp index t: {dim, t, tp, full, padded}
    std::vector<int64_t> padded_shape = whole.full_shape;
    if (!spec.replicated()) {
      spec.count = tp;
      spec.padded_full_size = parallel::tp::padded_size(spec.full_size, tp);
      padded_shape.at(spec.dim) = spec.padded_full_size;
    }
    at::Tensor full = at::zeros(padded_shape, dtype);
    int64_t covered = 0;
    for (size_t i = 0; i < pieces.size();) {
      spec.index = pieces[i].tp_index;
      at::Tensor slice = spec.replicated() ? full : full.narrow(spec.dim, spec.offset(), spec.shard_size());
      at::Tensor buffer = at::empty(slice.sizes(), dtype);
      int64_t filled = 0;
      for (; i < pieces.size() && pieces[i].tp_index == spec.index; ++i) {
        const Piece& piece = pieces[i];
        const int64_t numel = piece.numel < 0 ? buffer.numel() : piece.numel;
        at::Tensor target = buffer.view({-1}).narrow(0, piece.offset, numel);
        if (piece.rank == world_.rank()) {
          target.copy_(local(piece).reshape({-1}));
        } else {
          world_.recv(target, piece.rank, kPieceTag)->wait();
        }
        filled += numel;
      }
      NF_CHECK(filled == buffer.numel(), CheckpointError, "consolidating '", tensor_name, "': the ranks' pieces of tp slice ",
               spec.index, " hold ", filled, " of its ", buffer.numel(), " elements");
      slice.copy_(buffer);
      covered += buffer.numel();
    }
    NF_CHECK(covered == full.numel(), CheckpointError, "consolidating '", tensor_name, "': the ranks' pieces hold ",
             covered, " of its ", full.numel(), " elements (padding included)");
    return spec.replicated() ? full : full.narrow(spec.dim, 0, spec.full_size);
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

TrainConfig consolidated_config(TrainConfig config) {
  config.parallel.tp = config.parallel.pp = 1;
  config.parallel.dp = config.parallel.zero = 0;
  config.parallel.pp_layers.clear();
  return config;
}

CheckpointMeta consolidated_meta(CheckpointMeta meta) {
  meta.tp = meta.pp = meta.dp = 1;
  meta.zero = 0;
  return meta;
}

ConsolidatedModel consolidated_model(const model::ModelConfig& config) {
  ConsolidatedModel out;
  for (const auto& [name, shape] : ckpt::hf_parameter_shapes(config)) {
    out.parameters.push_back({name, shape, model::shard_spec_of(config, name, nullptr)});
    out.metadata["shard." + name] = shard_metadata(out.parameters.back().spec);
  }
  return out;
}

uint64_t write_consolidated_files(const std::string& staging_dir, const RankShards& shards, bool zero,
                                  const model::ModelConfig& config, const std::string& config_yaml,
                                  const dist::Mesh& mesh) {
  Gatherer gatherer(shards, zero, config, mesh);
  const int last = mesh.world().size() - 1;
  uint64_t bytes = gatherer.model_file(0, staging_dir + "/" + model_file(0, 0));
  bytes += gatherer.optimizer_file(last, staging_dir + "/" + optimizer_file(0, 0, 0));
  if (mesh.world().rank() == 0) write_file_atomic(staging_dir + "/" + kConfigFile, config_yaml);
  return bytes;
}

}  // namespace nf::train
