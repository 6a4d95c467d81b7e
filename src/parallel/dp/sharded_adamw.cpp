// ShardedAdamW (sharded_adamw.h): the AdamW update over a rank's shard, the parameter all-gather,
// and the shard <-> full state conversions.
#include "nf/parallel/dp/sharded_adamw.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <map>

#include "nf/core/error.h"

namespace nf::parallel::dp {

ShardedAdamW::ShardedAdamW(FlatParameters& flat, dist::Communicator& dp, optim::AdamWOptions options,
                           bool gather_after_step)
    : flat_(flat), dp_(dp), options_(std::move(options)), gather_after_step_(gather_after_step) {
  const FlatLayout& layout = flat_.layout();
  NF_CHECK(dp.size() == layout.dp_size(), UsageError,
           "sharded AdamW: the flat layout was built for dp=", layout.dp_size(), " but the '", dp.axis(),
           "' communicator has ", dp.size(), " ranks");
  segments_ = layout.shard_segments(dp_.rank());
  for (const ShardSegment& segment : segments_) {
    const double decay = options_.weight_decay_for(layout.slots()[segment.slot].name);
    if (!runs_.empty() && runs_.back().weight_decay == decay &&
        runs_.back().shard_offset + runs_.back().numel == segment.shard_offset) {
      runs_.back().numel += segment.numel;
    } else {
      runs_.push_back({segment.shard_offset, segment.numel, decay});
    }
  }
  const auto fp32 = flat_.options().dtype(at::kFloat);
  master_ = at::zeros({layout.shard_numel()}, fp32);
  exp_avg_ = at::zeros({layout.shard_numel()}, fp32);
  exp_avg_sq_ = at::zeros({layout.shard_numel()}, fp32);
  copy_master_from_parameters();
}

void ShardedAdamW::assign_master(const std::string& name, const at::Tensor& value) {
  at::NoGradGuard no_grad;
  const at::Tensor flat = value.reshape(-1).to(master_.options());
  for (const ShardSegment& segment : segments_) {
    if (flat_.layout().slots()[segment.slot].name != name) continue;
    master_.narrow(0, segment.shard_offset, segment.numel).copy_(flat.narrow(0, segment.param_offset, segment.numel));
  }
}

void ShardedAdamW::copy_master_from_parameters() {
  at::NoGradGuard no_grad;
  const FlatLayout& layout = flat_.layout();
  for (size_t b = 0; b < layout.buckets().size(); ++b) master_chunk(b).copy_(flat_.param_chunk(b, dp_.rank()));
}

at::Tensor ShardedAdamW::grad_squares(const at::Tensor& shard_grads,
                                      const std::function<double(const std::string&)>& weight) const {
  at::Tensor squares = at::zeros({1}, shard_grads.options().dtype(at::kDouble));
  // Adjacent segments with the same factor are summed together, in fp64 pieces of at most
  // kSquaresChunk elements: a whole fp64 copy of the shard would be the step's largest allocation.
  constexpr int64_t kSquaresChunk = int64_t{1} << 20;
  int64_t begin = 0, end = 0;
  double factor = 0.0;
  const auto flush = [&] {
    for (int64_t at = begin; at < end; at += kSquaresChunk) {
      const int64_t n = std::min(kSquaresChunk, end - at);
      squares += factor * shard_grads.narrow(0, at, n).to(at::kDouble).square().sum();
    }
  };
  for (const ShardSegment& segment : segments_) {
    const double w = weight(flat_.layout().slots()[segment.slot].name);
    if (w != factor || segment.shard_offset != end) {
      flush();
      begin = segment.shard_offset;
      factor = w;
    }
    end = segment.shard_offset + segment.numel;
  }
  flush();
  return squares;
}

void ShardedAdamW::step(const at::Tensor& shard_grads, double lr, double grad_scale) {
  NF_CHECK(shard_grads.numel() == flat_.layout().shard_numel(), UsageError, "sharded AdamW: shard gradients have ",
           shard_grads.numel(), " elements, the shard has ", flat_.layout().shard_numel(),
           "; pass GradSync::shard_grads()");
  at::NoGradGuard no_grad;
  ++step_;
  at::Tensor grads = shard_grads.to(at::kFloat);
  // The same fp32 multiply as optim::scale_gradients, so clipping matches a single process exactly;
  // in place, as the step owns the shard's gradients (no second shard-sized buffer).
  if (grad_scale != 1.0) grads.mul_(grad_scale);
  for (const DecayRun& run : runs_) {
    at::Tensor master = master_.narrow(0, run.shard_offset, run.numel);
    at::Tensor exp_avg = exp_avg_.narrow(0, run.shard_offset, run.numel);
    at::Tensor exp_avg_sq = exp_avg_sq_.narrow(0, run.shard_offset, run.numel);
    optim::adamw_update(master, grads.narrow(0, run.shard_offset, run.numel), exp_avg, exp_avg_sq, step_, lr,
                        run.weight_decay, options_);
  }
  if (gather_after_step_) gather_parameters();
}

at::Tensor ShardedAdamW::master_chunk(size_t bucket) const {
  const Bucket& info = flat_.layout().buckets().at(bucket);
  return master_.narrow(0, info.shard_offset, info.chunk_numel(flat_.layout().dp_size()));
}

void ShardedAdamW::gather_parameters() {
  const FlatLayout& layout = flat_.layout();
  const at::Tensor source = master_.to(flat_.options().dtype());  // no copy when fp32
  std::vector<std::unique_ptr<dist::Work>> works;
  // All buckets in flight at once; the master chunk is the send buffer (MPI forbids it to overlap
  // the receive buffer, which the rank's own chunk of the flat parameters would).
  for (size_t b = 0; b < layout.buckets().size(); ++b) {
    at::Tensor bucket = flat_.bucket_params(b);
    const Bucket& info = layout.buckets()[b];
    works.push_back(dp_.all_gather(source.narrow(0, info.shard_offset, info.chunk_numel(layout.dp_size())), bucket));
  }
  for (auto& work : works) work->wait();
}

namespace {

at::Tensor layout_fingerprint(const FlatLayout& layout, int rank) {
  return at::tensor(
      std::vector<int64_t>{layout.dp_size(), rank, layout.total_numel(), static_cast<int64_t>(layout.buckets().size()),
                           static_cast<int64_t>(layout.slots().size())},
      at::kLong);
}

const at::Tensor& find_entry(const std::map<std::string, at::Tensor>& by_name, const std::string& key) {
  const auto it = by_name.find(key);
  if (it == by_name.end()) throw CheckpointError("optimizer state has no entry '" + key + "'");
  return it->second;
}

}  // namespace

NamedTensors ShardedAdamW::state() const {
  return {{"step", at::scalar_tensor(step_, at::kLong)},
          {"layout", layout_fingerprint(flat_.layout(), dp_.rank())},
          {"master", master_},
          {"exp_avg", exp_avg_},
          {"exp_avg_sq", exp_avg_sq_}};
}

void ShardedAdamW::load_state(const NamedTensors& state) {
  const std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  const at::Tensor expected = layout_fingerprint(flat_.layout(), dp_.rank());
  const at::Tensor& saved = find_entry(by_name, "layout");
  NF_CHECK(saved.sizes() == expected.sizes() && at::equal(saved, expected), CheckpointError,
           "sharded optimizer state was saved with layout [dp, rank, numel, buckets, parameters] = ", saved,
           " but this rank has ", expected, "; load the consolidated (full) state to change the layout");
  at::NoGradGuard no_grad;
  master_.copy_(find_entry(by_name, "master"));
  exp_avg_.copy_(find_entry(by_name, "exp_avg"));
  exp_avg_sq_.copy_(find_entry(by_name, "exp_avg_sq"));
  step_ = find_entry(by_name, "step").item<int64_t>();
}

NamedTensors ShardedAdamW::full_state() const {
  const FlatLayout& layout = flat_.layout();
  const bool with_master = flat_.options().dtype() != caffe2::TypeMeta::Make<float>();
  const auto gather = [&](const at::Tensor& shard) {
    at::Tensor full = at::empty({layout.total_numel()}, shard.options());
    std::vector<std::unique_ptr<dist::Work>> works;
    for (const Bucket& bucket : layout.buckets()) {
      at::Tensor output = full.narrow(0, bucket.offset, bucket.numel);
      works.push_back(
          dp_.all_gather(shard.narrow(0, bucket.shard_offset, bucket.chunk_numel(layout.dp_size())), output));
    }
    for (auto& work : works) work->wait();
    return full;
  };
  const at::Tensor exp_avg = gather(exp_avg_), exp_avg_sq = gather(exp_avg_sq_);
  const at::Tensor master = with_master ? gather(master_) : at::Tensor();
  NamedTensors state{{"step", at::scalar_tensor(step_, at::kLong)}};
  for (const ParamSlot& slot : layout.slots()) {
    const auto piece = [&](const at::Tensor& full) {
      return full.narrow(0, slot.offset, slot.numel).view(slot.shape).clone();
    };
    state.emplace_back(slot.name + ".exp_avg", piece(exp_avg));
    state.emplace_back(slot.name + ".exp_avg_sq", piece(exp_avg_sq));
    if (with_master) state.emplace_back(slot.name + ".master", piece(master));
  }
  return state;
}

void ShardedAdamW::load_full_state(const NamedTensors& state) {
  const std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  const FlatLayout& layout = flat_.layout();
  at::NoGradGuard no_grad;
  const auto restore = [&](const std::string& suffix, at::Tensor& shard, const ShardSegment& segment) {
    const ParamSlot& slot = layout.slots()[segment.slot];
    const at::Tensor& saved = find_entry(by_name, slot.name + suffix);
    NF_CHECK(saved.numel() == slot.numel, CheckpointError, "optimizer state '", slot.name, suffix, "' has shape ",
             saved.sizes(), ", the parameter has ", at::IntArrayRef(slot.shape));
    shard.narrow(0, segment.shard_offset, segment.numel)
        .copy_(saved.reshape({-1}).narrow(0, segment.param_offset, segment.numel));
  };
  copy_master_from_parameters();
  const bool with_master = !layout.slots().empty() && by_name.count(layout.slots().front().name + ".master") > 0;
  for (const ShardSegment& segment : segments_) {
    restore(".exp_avg", exp_avg_, segment);
    restore(".exp_avg_sq", exp_avg_sq_, segment);
    if (with_master) restore(".master", master_, segment);
  }
  step_ = find_entry(by_name, "step").item<int64_t>();
}

}  // namespace nf::parallel::dp
