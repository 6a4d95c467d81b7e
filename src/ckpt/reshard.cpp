// Resharding and consolidation (reshard.h): runs plan_shard_reads over a step directory's files.
#include "nf/ckpt/reshard.h"

#include <ATen/ATen.h>
#include <c10/util/accumulate.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "checkpoint_files.h"
#include "nf/ckpt/consolidated.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"

namespace nf::ckpt {
namespace {

namespace fs = std::filesystem;
using TensorMap = std::map<std::string, at::Tensor>;

// Every tensor of the checkpoint's model files, from the header of each stage's tp shard 0 (no
// data is read; the files the plan picks are checksummed when they are).
std::vector<SavedTensor> saved_tensors(const std::string& step_dir, const CheckpointMeta& meta) {
  std::vector<SavedTensor> saved;
  for (int64_t pp = 0; pp < meta.pp; ++pp) {
    const std::string path = step_dir + "/" + model_file(0, pp);
    NF_CHECK(fs::exists(path), CheckpointError, "checkpoint file '", path, "' is missing");
    const SafetensorsFile file(path);
    for (const TensorInfo& info : file.tensors()) {
      const auto spec = file.metadata().find("shard." + info.name);
      NF_CHECK(spec != file.metadata().end(), CheckpointError, "'", path, "': tensor '", info.name,
               "' has no shard metadata");
      saved.push_back({info.name, pp, parse_shard_metadata(spec->second, path), info.shape, info.dtype});
    }
  }
  return saved;
}

// ZeRO: each dp rank's file of (tp, pp) holds one piece (or none) of every parameter of that
// shard, at the offsets its "piece.<name>" metadata gives; put the pieces back in place.
TensorMap assemble_zero_state(const std::string& step_dir, const CheckpointMeta& meta, int64_t tp, int64_t pp,
                              const std::vector<const SavedTensor*>& tensors) {
  TensorMap state;
  std::map<std::string, int64_t> covered;
  for (const SavedTensor* tensor : tensors) {
    const int64_t numel = c10::multiply_integers(tensor->shard_shape);
    state[tensor->name + ".exp_avg"] = at::zeros({numel}, at::kFloat);
    state[tensor->name + ".exp_avg_sq"] = at::zeros({numel}, at::kFloat);
  }
  std::optional<int64_t> step;
  for (int64_t dp = 0; dp < meta.dp; ++dp) {
    const auto file = open_verified(step_dir, optimizer_file(tp, pp, dp), meta);
    const std::map<std::string, ZeroPiece> pieces = parse_zero_pieces(file->metadata(), file->path());
    const at::Tensor exp_avg = file->read("exp_avg"), exp_avg_sq = file->read("exp_avg_sq");
    const int64_t file_step = file->read("step").item<int64_t>();
    NF_CHECK(!step || *step == file_step, CheckpointError, "'", file->path(), "' is at optimizer step ", file_step,
             " but the files of the other dp ranks are at ", *step, "; the step directory mixes checkpoints");
    step = file_step;
    for (const SavedTensor* tensor : tensors) {
      const auto found = pieces.find(tensor->name);
      if (found == pieces.end()) continue;
      const ZeroPiece& piece = found->second;
      at::Tensor& avg = state[tensor->name + ".exp_avg"];
      NF_CHECK(piece.param_offset + piece.numel <= avg.numel() && piece.shard_offset + piece.numel <= exp_avg.numel(),
               CheckpointError, "'", file->path(), "': piece.", tensor->name, " (elements ", piece.param_offset, "..",
               piece.param_offset + piece.numel, " at ", piece.shard_offset, ") lies outside the parameter (",
               avg.numel(), " elements) or the flat state (", exp_avg.numel(), ")");
      avg.narrow(0, piece.param_offset, piece.numel).copy_(exp_avg.narrow(0, piece.shard_offset, piece.numel));
      state[tensor->name + ".exp_avg_sq"]
          .narrow(0, piece.param_offset, piece.numel)
          .copy_(exp_avg_sq.narrow(0, piece.shard_offset, piece.numel));
      covered[tensor->name] += piece.numel;
    }
  }
  for (const SavedTensor* tensor : tensors) {
    const int64_t numel = c10::multiply_integers(tensor->shard_shape);
    if (covered[tensor->name] != numel) {
      throw CheckpointError("'" + step_dir + "': the ZeRO optimizer files of tp " + std::to_string(tp) + ", pp " +
                                std::to_string(pp) + " hold " + std::to_string(covered[tensor->name]) + " of the " +
                                std::to_string(numel) + " elements of '" + tensor->name + "'",
                            "files written before nf-train recorded \"piece.<name>\" metadata load only with the "
                            "layout that wrote them: " +
                                layout_text(meta.dp, meta.tp, meta.pp, meta.zero));
    }
    for (const char* moment : {".exp_avg", ".exp_avg_sq"}) {
      at::Tensor& flat = state[tensor->name + moment];
      flat = flat.view(tensor->shard_shape);
    }
  }
  state["step"] = at::scalar_tensor(step.value_or(0), at::kLong);
  return state;
}

// The optimizer state of `tensors` in the files of saved coordinate (tp, pp), per parameter in
// the saved shard shape, and "step".
TensorMap saved_optimizer_state(const std::string& step_dir, const CheckpointMeta& meta, int64_t tp, int64_t pp,
                                const std::vector<const SavedTensor*>& tensors) {
  if (meta.zero > 0) return assemble_zero_state(step_dir, meta, tp, pp, tensors);
  const auto file = open_verified(step_dir, optimizer_file(tp, pp, 0), meta);  // zero 0: dp rank 0 writes it
  std::vector<std::string> keys{"step"};
  for (const SavedTensor* tensor : tensors) {
    keys.push_back(tensor->name + ".exp_avg");
    keys.push_back(tensor->name + ".exp_avg_sq");
  }
  TensorMap state;
  for (auto& [key, value] : file->read(keys)) state[key] = std::move(value);
  return state;
}

// Copies the rows `copy` names from a saved shard (checked against the saved shard shape) into the target.
void copy_rows(const RowCopy& copy, const at::Tensor& source, at::Tensor& target, const SavedTensor& saved,
               const std::string& what) {
  NF_CHECK(source.sizes() == at::IntArrayRef(saved.shard_shape), CheckpointError, what, " has shape ", source.sizes(),
           " but tp shard 0 of its stage has ", at::IntArrayRef(saved.shard_shape));
  if (copy.dim < 0) {
    target.copy_(source);
  } else {
    target.narrow(copy.dim, copy.target_offset, copy.size)
        .copy_(source.narrow(copy.dim, copy.source_offset, copy.size));
  }
}

// The targets' parameters from the model files of `saved` (split `saved_tp` ways, opened with
// `open`), and with `optimizer_meta` their AdamW state from the step directory `source`.
ReshardedState read_planned(const std::string& source, const std::vector<SavedTensor>& saved, int64_t saved_tp,
                            const ModelFileOpener& open, const std::vector<ParameterShard>& targets,
                            const CheckpointMeta* optimizer_meta) {
  const bool with_optimizer = optimizer_meta != nullptr;
  std::map<std::string, const SavedTensor*> by_name;
  for (const SavedTensor& tensor : saved) by_name[tensor.name] = &tensor;
  const std::vector<ShardRead> plan = plan_shard_reads(saved, saved_tp, targets, source);
  ReshardedState out;
  std::vector<at::Tensor> exp_avg, exp_avg_sq;
  for (const ParameterShard& target : targets) {
    const std::vector<int64_t> shape = parallel::tp::shard_shape(target.full_shape, target.spec);
    out.parameters.emplace_back(target.name, at::zeros(shape, by_name.at(target.name)->dtype));
    if (with_optimizer) {
      exp_avg.push_back(at::zeros(shape, at::kFloat));
      exp_avg_sq.push_back(at::zeros(shape, at::kFloat));
    }
  }
  std::optional<int64_t> step;
  for (const ShardRead& read : plan) {
    std::vector<std::string> names;
    std::vector<const SavedTensor*> tensors;
    for (const RowCopy& copy : read.copies) {
      const std::string& name = targets[copy.target].name;
      if (std::find(names.begin(), names.end(), name) != names.end()) continue;
      names.push_back(name);
      tensors.push_back(by_name.at(name));
    }
    const auto file = open(read.tp, read.pp);
    TensorMap values;
    for (auto& [name, value] : file->read(names)) values[name] = std::move(value);
    const TensorMap moments =
        with_optimizer ? saved_optimizer_state(source, *optimizer_meta, read.tp, read.pp, tensors) : TensorMap{};
    for (const RowCopy& copy : read.copies) {
      const std::string& name = targets[copy.target].name;
      const SavedTensor& tensor = *by_name.at(name);
      copy_rows(copy, values.at(name), out.parameters[copy.target].second, tensor,
                "'" + file->path() + "': tensor '" + name + "'");
      if (!with_optimizer) continue;
      const std::string state_file = "the optimizer state of tp " + std::to_string(read.tp) + ", pp " +
                                     std::to_string(read.pp) + " in '" + source + "': '" + name;
      copy_rows(copy, moments.at(name + ".exp_avg"), exp_avg[copy.target], tensor, state_file + ".exp_avg'");
      copy_rows(copy, moments.at(name + ".exp_avg_sq"), exp_avg_sq[copy.target], tensor, state_file + ".exp_avg_sq'");
    }
    if (!with_optimizer) continue;
    const int64_t read_step = moments.at("step").item<int64_t>();
    NF_CHECK(!step || *step == read_step, CheckpointError, "'", source, "': the optimizer files of tp ", read.tp,
             ", pp ", read.pp, " are at step ", read_step, ", others at ", *step,
             "; the step directory mixes checkpoints");
    step = read_step;
  }
  if (with_optimizer) {
    out.optimizer_state.emplace_back("step", at::scalar_tensor(step.value_or(0), at::kLong));
    for (size_t i = 0; i < targets.size(); ++i) {
      out.optimizer_state.emplace_back(targets[i].name + ".exp_avg", exp_avg[i]);
      out.optimizer_state.emplace_back(targets[i].name + ".exp_avg_sq", exp_avg_sq[i]);
    }
  }
  return out;
}

// A step directory's model files, each checked against its SHA-256 in meta.json.
ModelFileOpener verified_model_files(const std::string& step_dir, const CheckpointMeta& meta) {
  return [step_dir, meta](int64_t tp, int64_t pp) { return open_verified(step_dir, model_file(tp, pp), meta); };
}

}  // namespace

ReshardedState read_resharded(const std::string& step_dir, const CheckpointMeta& meta,
                              const std::vector<ParameterShard>& targets, bool with_optimizer) {
  return read_planned(step_dir, saved_tensors(step_dir, meta), meta.tp, verified_model_files(step_dir, meta), targets,
                      with_optimizer ? &meta : nullptr);
}

NamedTensors read_parameters(const std::vector<SavedTensor>& saved, int64_t saved_tp,
                             const std::vector<ParameterShard>& targets, const ModelFileOpener& open,
                             const std::string& source) {
  return read_planned(source, saved, saved_tp, open, targets, nullptr).parameters;
}

ModelReader::ModelReader(std::string step_dir)
    : step_dir_(std::move(step_dir)), meta_(read_checkpoint_meta(step_dir_)), saved_(saved_tensors(step_dir_, meta_)) {}

std::map<std::string, at::Tensor> ModelReader::read(const std::vector<std::string>& names) {
  std::vector<ParameterShard> whole;  // the saved tensors asked for, as one tp rank holds them
  for (const SavedTensor& tensor : saved_) {
    if (!names.empty() && std::find(names.begin(), names.end(), tensor.name) == names.end()) continue;
    ParameterShard target{tensor.name, tensor.shard_shape, tensor.spec};
    target.spec.index = 0;
    target.spec.count = 1;
    if (!target.spec.replicated()) {
      target.full_shape.at(target.spec.dim) = tensor.spec.full_size;
      target.spec.padded_full_size = tensor.spec.full_size;
    }
    whole.push_back(std::move(target));
  }
  const ModelFileOpener open = [this](int64_t tp, int64_t pp) {
    std::shared_ptr<const SafetensorsFile>& file = opened_[{tp, pp}];
    if (!file) file = open_verified(step_dir_, model_file(tp, pp), meta_);
    return file;
  };
  std::map<std::string, at::Tensor> full;
  for (auto& [name, tensor] : read_planned(step_dir_, saved_, meta_.tp, open, whole, nullptr).parameters)
    full[name] = tensor;
  return full;
}

size_t consolidate_checkpoint(const std::string& step_dir, const std::string& out_dir) {
  const CheckpointMeta meta = read_checkpoint_meta(step_dir);
  const ModelLayout saved = read_model_layout(step_dir);
  const std::string config_path = step_dir + "/" + kConfigFile;
  const std::string config = consolidated_config(read_file(config_path), config_path);
  AtomicDirectory out(out_dir, "output directory");
  const ConsolidatedModel whole = consolidated_model(saved.model);  // what a one-rank job holds
  const ReshardedState state = read_resharded(step_dir, meta, whole.parameters, /*with_optimizer=*/true);

  const fs::path stage(out.staging());
  write_tensors((stage / model_file(0, 0)).string(), state.parameters, whole.metadata);
  write_tensors((stage / optimizer_file(0, 0, 0)).string(), state.optimizer_state, {});
  write_file_atomic((stage / kConfigFile).string(), config);
  write_meta(out.staging(), consolidated_meta(meta));
  out.commit();
  return state.parameters.size();
}

}  // namespace nf::ckpt
