// nf-train --dry-run.json's content (planner.h, dry_run_json()): the plan that --dry-run prints, as
// JSON for programs (the scaling suite's driver) that would otherwise parse the text tables. Bytes
// and seconds are unrounded; keys keep the order of the printed tables.
#include <nlohmann/json.hpp>

#include "nf/train/planner.h"

namespace nf::train {
namespace {

using Json = nlohmann::ordered_json;

Json stage_json(const StageMemory& s) {
  return {{"stage", s.stage},
          {"first_rank", s.first_rank},
          {"last_rank", s.last_rank},
          {"first_layer", s.first_layer},
          {"n_layers", s.n_layers},
          {"parameters", s.parameters},
          {"gradients", s.gradients},
          {"optimizer", s.optimizer},
          {"master", s.master},
          {"activations", s.activations},
          {"comm_buffers", s.comm_buffers},
          {"step_transient", s.step_transient},
          {"total", s.total()}};
}

Json plan_json(const Plan& plan) {
  const StepTime& t = plan.step;
  Json stages = Json::array();
  for (const StageMemory& stage : plan.stages) stages.push_back(stage_json(stage));
  return {{"dp", plan.dp},
          {"tp", plan.tp},
          {"pp", plan.pp},
          {"zero", plan.zero},
          {"recompute", model::name_of(plan.recompute)},
          {"micro_batches", plan.micro_batches},
          {"rows_per_micro_batch", plan.rows_per_micro_batch},
          {"bf16_autocast", plan.bf16_autocast},
          {"peak_tflops", plan.peak_tflops},
          {"peak_assumed", plan.peak_assumed},
          {"efficiency", plan.efficiency},
          {"bandwidth_gbps", plan.bandwidth_gbps},
          {"peak_bytes", plan.peak_bytes()},
          {"keys", layout_keys(plan)},
          // compute_s includes recompute_s; total_s is the sum of the others.
          {"step",
           {{"compute_s", t.compute_s},
            {"recompute_s", t.recompute_s},
            {"dp_comm_s", t.dp_comm_s},
            {"tp_comm_s", t.tp_comm_s},
            {"pp_comm_s", t.pp_comm_s},
            {"bubble_s", t.bubble_s},
            {"total_s", t.total_s()}}},
          {"stages", stages}};
}

}  // namespace

std::string dry_run_json(const DryRun& run) {
  Json json = {{"world_size", run.world_size},
               {"plan", plan_json(run.plan)},
               {"limit_bytes", run.limit.bytes},  // 0: unknown, and every plan fits
               {"limit_source", run.limit.source},
               {"fits", run.fits}};
  if (run.layouts) {
    Json layouts = Json::array();
    for (const Candidate& layout : *run.layouts) layouts.push_back(plan_json(layout.plan));
    json["layouts"] = layouts;
  }
  return json.dump(2) + "\n";
}

}  // namespace nf::train
