// The shape of the device mesh, tp × pp × dp, and the one rank formula of NeuralFlow.
//
//   rank = pp_rank · (dp · tp) + dp_rank · tp + tp_rank
//
// TP is the innermost axis, so a TP group is tp consecutive ranks and stays inside a node;
// then DP; PP is the outermost axis. This file is the only place that formula is written.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nf::dist {

// The pipeline schedule (parallel.pp_schedule; parallel/pp/schedule.h builds it).
enum class PipelineSchedule { kGPipe, k1F1B };
// Its config names, the one place they are spelled: {"1f1b", k1F1B}, {"gpipe", kGPipe}.
const std::vector<std::pair<std::string, PipelineSchedule>>& pipeline_schedule_names();
std::string name_of(PipelineSchedule schedule);

// The parallel layout as the user configures it (config section `parallel`).
struct ParallelConfig {
  int64_t tp = 1;                  // tensor-parallel size
  bool sequence_parallel = false;  // split the hidden state along the sequence over tp
  int64_t pp = 1;                  // pipeline-parallel size
  int64_t dp = 0;                  // data-parallel size; 0 = world size / (tp · pp)
  int64_t zero = 0;                // ZeRO stage for data parallelism
  PipelineSchedule pp_schedule = PipelineSchedule::k1F1B;
  std::vector<int64_t> pp_layers;       // decoder layers per pipeline stage; empty = balanced
  double collective_timeout_s = 300.0;  // a collective or p2p slower than this ends the job
  double bucket_mb = 25.0;              // data-parallel gradient bucket size
  bool overlap_grad_reduce = true;      // start a bucket's reduction during backward
};

struct MeshCoords {
  int64_t tp = 0;
  int64_t dp = 0;
  int64_t pp = 0;
};

class MeshShape {
 public:
  // Resolves dp = 0 and checks tp · pp · dp == world_size; the ConfigError names every factor,
  // e.g. "tp(2) * pp(2) * dp(3) = 12 != world size 8".
  static MeshShape resolve(const ParallelConfig& config, int64_t world_size);

  int64_t tp() const { return tp_; }
  int64_t pp() const { return pp_; }
  int64_t dp() const { return dp_; }
  int64_t world_size() const { return tp_ * pp_ * dp_; }

  MeshCoords coords(int64_t rank) const;
  int64_t rank(const MeshCoords& coords) const;
  std::string describe() const;  // "tp 2 × pp 1 × dp 4 = 8 ranks"

 private:
  MeshShape(int64_t tp, int64_t pp, int64_t dp) : tp_(tp), pp_(pp), dp_(dp) {}
  int64_t tp_, pp_, dp_;
};

}  // namespace nf::dist
