// The `parallel` section's keys, declared once for every schema that holds a ParallelConfig: the
// trainer's config (train/config.h) and the checkpoint code's reading of a saved config.yaml
// (ckpt/checkpoint.h). Each key's doc is here; its default is ParallelConfig's.
#pragma once

#include "nf/core/config/schema.h"
#include "nf/dist/mesh_shape.h"

namespace nf::dist {

template <class Root>
void declare_parallel_keys(config::Schema<Root>& s, ParallelConfig Root::*section) {
  s.field(section, &ParallelConfig::tp, "parallel.tp", "Tensor-parallel size (innermost mesh axis).").at_least(1);
  s.field(section, &ParallelConfig::sequence_parallel, "parallel.sequence_parallel",
          "With tp > 1, split norms and the hidden state between blocks along the sequence over tp (less memory).");
  s.field(section, &ParallelConfig::pp, "parallel.pp", "Pipeline-parallel size (outermost mesh axis).").at_least(1);
  s.field(section, &ParallelConfig::dp, "parallel.dp", "Data-parallel size; 0 = world size / (tp·pp).").at_least(0);
  s.field(section, &ParallelConfig::zero, "parallel.zero",
          "ZeRO stage: 0 replicated, 1 sharded optimizer state, 2 also reduce-scattered gradients, 3 also sharded "
          "parameters (each block's gathered just before its forward and its backward, then freed).")
      .at_least(0)
      .at_most(3);
  s.enum_field(section, &ParallelConfig::pp_schedule, "parallel.pp_schedule", "Pipeline schedule.",
               pipeline_schedule_names());
  s.field(section, &ParallelConfig::pp_layers, "parallel.pp_layers",
          "Decoder layers per pipeline stage, e.g. [3, 5]; empty = balanced.")
      .at_least(1);
  s.field(section, &ParallelConfig::bucket_mb, "parallel.bucket_mb",
          "Size of a data-parallel gradient bucket (one all-reduce or reduce-scatter each), in MiB.")
      .at_least(0.001);
  s.field(section, &ParallelConfig::overlap_grad_reduce, "parallel.overlap_grad_reduce",
          "Start each bucket's reduction during backward, as soon as its gradients are complete.");
  s.field(section, &ParallelConfig::collective_timeout_s, "parallel.collective_timeout_s",
          "A collective or p2p slower than this ends the whole job with a message.")
      .at_least(1);
}

}  // namespace nf::dist
