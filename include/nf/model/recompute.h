// Activation recomputation (training.recompute): what a decoder block keeps for backward.
//
//   none       every intermediate autograd saves (the fastest, the most memory);
//   selective  attention's core, softmax(q kᵀ) v, is run again in backward instead of keeping
//              what it saved (Megatron's selective recomputation); the linears keep their inputs;
//   full       a block keeps only its input and runs its whole forward again in backward; with
//              `interval` N, only every N-th block (layers 0, N, 2N, ...) does.
//
// Recomputation re-runs the same kernels on the same inputs (the model has no dropout), so values
// and gradients are bit-identical to not recomputing (docs/memory.md).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "nf/model/recompute_mode.h"

namespace nf::model {

struct Recompute {
  RecomputeMode mode = RecomputeMode::kNone;
  int64_t interval = 1;  // full: every interval-th block recomputes
  // Whether block `layer` (its global index) keeps only its input.
  bool full_block(int64_t layer) const { return mode == RecomputeMode::kFull && layer % interval == 0; }
  bool attention_core() const { return mode == RecomputeMode::kSelective; }
};

// fn(inputs) computed without keeping its intermediates: forward runs it without recording
// autograd history and keeps only `inputs`; backward runs it again with history from those inputs
// and backpropagates through the fresh graph (PyTorch's reentrant checkpoint). Parameters that fn
// reads get their gradients then, as without recomputation. Outside autograd (no input needs a
// gradient, or grad mode off) it is plain fn(inputs). fn must be deterministic and may run
// collectives only if every rank of the group recomputes in the same order (they do: backward runs
// the same schedule on every rank).
at::Tensor recomputed(std::function<at::Tensor(const std::vector<at::Tensor>&)> fn,
                      const std::vector<at::Tensor>& inputs);

}  // namespace nf::model
