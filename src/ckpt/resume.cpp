// The resume policy (resume.h): candidates in order, every rank agreeing on the first intact one.
#include "nf/ckpt/resume.h"

#include <ATen/ATen.h>

#include "nf/core/error.h"

namespace nf::ckpt {

std::optional<LoadedCheckpoint> resume(const std::string& resume, const std::string& checkpoints_dir,
                                       const ModelLayout& job, const dist::Mesh& mesh,
                                       const std::vector<ParameterShard>& parameters, const RestoreFunction& restore,
                                       Logger& log) {
  const std::vector<std::string> candidates = resume_candidates(resume, checkpoints_dir);
  if (candidates.empty() && resume == "auto") {
    log.info("checkpoint.resume auto: no checkpoint in ", checkpoints_dir, ", starting fresh");
  }
  for (const std::string& dir : candidates) {
    std::optional<LoadedCheckpoint> loaded;
    std::string error;
    try {
      loaded = load_checkpoint(dir, job, mesh, parameters);
      restore(*loaded, dir);
    } catch (const ModelMismatchError&) {
      throw;  // every rank reads the same config.yaml: all stop here, none waits below
    } catch (const CheckpointError& e) {
      if (resume != "auto") throw;
      error = e.what();
    }
    // A checkpoint damaged on one rank is damaged for all: they vote.
    at::Tensor ok = at::tensor({static_cast<int32_t>(error.empty())}, at::kInt);
    if (mesh.world().size() > 1) mesh.world().all_reduce(ok, dist::ReduceOp::kMin)->wait();
    if (ok.item<int32_t>() == 1) {
      const CheckpointMeta& saved = loaded->meta;
      const dist::MeshShape& shape = mesh.shape();
      if (saved.tp != shape.tp() || saved.pp != shape.pp() || saved.dp != shape.dp() ||
          saved.zero != job.parallel.zero) {
        log.info("resharding ", dir, " from layout ", layout_text(saved.dp, saved.tp, saved.pp, saved.zero), " to ",
                 layout_text(shape.dp(), shape.tp(), shape.pp(), job.parallel.zero),
                 loaded->resharded ? "" : " (its files load as saved)");
      }
      return loaded;
    }
    log.warn("skipping checkpoint ", dir, ": ", error.empty() ? "damaged on another rank" : error);
  }
  NF_CHECK(candidates.empty(), CheckpointError, "no intact checkpoint in ", checkpoints_dir, " (tried ",
           candidates.size(), "); move the damaged step directories away to start fresh");
  return std::nullopt;
}

}  // namespace nf::ckpt
