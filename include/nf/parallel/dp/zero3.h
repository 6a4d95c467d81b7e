// ZeRO-3's parameter side: each rank keeps only its chunk of every unit's parameters (the fp32
// master shard of ShardedAdamW); a unit's full parameters are all-gathered over dp right before
// its forward and again before its backward, and freed after each (FlatParameters::free_bucket:
// the storage goes, so tensors autograd saved of them take no memory in between). The next
// unit's gather is started ahead (prefetch: the next layer in forward, the previous one in
// backward) so that it overlaps the current unit's compute.
//
// One unit = one bucket of the flat layout (FlatLayout's units). Every dp rank runs the same
// units in the same order, so the gathers are issued identically on every rank. Pinned units (a
// tied embedding, read by the head and by the pipeline's weight sync) stay gathered, and are
// re-gathered after every update.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "nf/dist/communicator.h"
#include "nf/parallel/dp/flat_parameters.h"
#include "nf/parallel/dp/grad_ready.h"
#include "nf/parallel/dp/sharded_adamw.h"
#include "nf/parallel/dp/unit_hooks.h"

namespace nf::parallel::dp {

class ParameterGather : public UnitHooks {
 public:
  // Starts with every unit gathered (the flat buffers hold the parameters): load weights, then
  // release_all(). `flat`, `optimizer` and `dp` must outlive this object.
  ParameterGather(FlatParameters& flat, const ShardedAdamW& optimizer, dist::Communicator& dp,
                  std::set<std::string> pinned_units);
  ~ParameterGather() override;
  ParameterGather(const ParameterGather&) = delete;
  ParameterGather& operator=(const ParameterGather&) = delete;

  void before_forward(const std::string& unit) override;
  void after_forward(const std::string& unit, const at::Tensor& output) override;

  // Every unit gathered (a checkpoint save or load reads or writes the parameters), collective.
  void gather_all();
  // Every unit not pinned freed (waits for gathers in flight first).
  void release_all();
  // After an update of the master shard: pinned units are gathered again.
  void refresh_pinned();

 private:
  enum class State { kFreed, kGathering, kGathered };
  size_t bucket_of(const std::string& unit) const;
  // The all-gather of bucket b's full parameters from every rank's master chunk (allocated).
  std::unique_ptr<dist::Work> start_gather(size_t bucket);
  void gather(size_t bucket, bool wait);
  void free(size_t bucket);
  void before_backward(size_t bucket);
  void on_grad_ready(size_t bucket);

  FlatParameters& flat_;
  const ShardedAdamW& optimizer_;
  dist::Communicator& dp_;
  std::map<std::string, size_t> buckets_by_unit_;
  std::vector<bool> pinned_;
  std::vector<State> state_;
  std::vector<std::unique_ptr<dist::Work>> works_;  // per bucket: its gather in flight
  std::vector<int64_t> pending_grads_;              // per bucket, in its backward
  GradReadyHooks ready_hooks_;                      // frees a unit once its backward's gradients are in
};

}  // namespace nf::parallel::dp
