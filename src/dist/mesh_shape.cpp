// Mesh arithmetic: layout validation and the rank <-> coordinates formula.
#include "nf/dist/mesh_shape.h"

#include "nf/core/error.h"

namespace nf::dist {

const std::vector<std::pair<std::string, PipelineSchedule>>& pipeline_schedule_names() {
  static const std::vector<std::pair<std::string, PipelineSchedule>> names = {{"1f1b", PipelineSchedule::k1F1B},
                                                                              {"gpipe", PipelineSchedule::kGPipe}};
  return names;
}

std::string name_of(PipelineSchedule schedule) {
  for (const auto& [name, value] : pipeline_schedule_names())
    if (value == schedule) return name;
  return "";
}

MeshShape MeshShape::resolve(const ParallelConfig& config, int64_t world_size) {
  const int64_t tp = config.tp, pp = config.pp;
  NF_CHECK(tp >= 1 && pp >= 1 && config.dp >= 0, ConfigError, "parallel: tp(", tp, "), pp(", pp,
           ") must be >= 1 and dp(", config.dp, ") >= 0");
  int64_t dp = config.dp;
  if (dp == 0) {
    if (world_size % (tp * pp) != 0) {
      throw ConfigError("parallel: world size " + std::to_string(world_size) + " is not divisible by tp(" +
                            std::to_string(tp) + ") * pp(" + std::to_string(pp) + ") = " + std::to_string(tp * pp),
                        "launch a multiple of tp * pp ranks, or change parallel.tp / parallel.pp");
    }
    dp = world_size / (tp * pp);
  }
  if (tp * pp * dp != world_size) {
    throw ConfigError("parallel: tp(" + std::to_string(tp) + ") * pp(" + std::to_string(pp) + ") * dp(" +
                          std::to_string(dp) + ") = " + std::to_string(tp * pp * dp) + " != world size " +
                          std::to_string(world_size),
                      "launch tp * pp * dp ranks (mpirun -n), or set parallel.dp to 0 to derive it");
  }
  return MeshShape(tp, pp, dp);
}

MeshCoords MeshShape::coords(int64_t rank) const {
  NF_CHECK(rank >= 0 && rank < world_size(), DistError, "rank ", rank, " outside world of ", world_size());
  return MeshCoords{rank % tp_, (rank / tp_) % dp_, rank / (tp_ * dp_)};
}

int64_t MeshShape::rank(const MeshCoords& c) const {
  NF_CHECK(c.tp >= 0 && c.tp < tp_ && c.dp >= 0 && c.dp < dp_ && c.pp >= 0 && c.pp < pp_, DistError,
           "mesh coordinates (tp ", c.tp, ", dp ", c.dp, ", pp ", c.pp, ") outside ", describe());
  return c.pp * (dp_ * tp_) + c.dp * tp_ + c.tp;
}

std::string MeshShape::describe() const {
  return "tp " + std::to_string(tp_) + " × pp " + std::to_string(pp_) + " × dp " + std::to_string(dp_) + " = " +
         std::to_string(world_size()) + " ranks";
}

}  // namespace nf::dist
