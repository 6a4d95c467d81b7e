// Every point-to-point message tag nf uses, in one place, so that two kinds of message can never
// meet under one tag on the same pair of ranks. MPI guarantees tags up to 32767; NCCL ignores them
// (its p2p is ordered per pair of ranks and stream), so on GPU the ordering comments at each use
// carry the same guarantee.
#pragma once

#include <cstdint>

#include "nf/core/error.h"

namespace nf::dist::p2p_tags {

// The pipeline (pp axis): micro-batch m's activation goes forward as tag 2m, its gradient back as
// 2m + 1 (parallel/pp/executor.cpp), so a schedule may hold at most kMaxMicroBatches per step.
constexpr int64_t kMaxMicroBatches = 16382;
inline int pipeline(int64_t micro_batch, bool gradient) {
  NF_CHECK(micro_batch >= 0 && micro_batch < kMaxMicroBatches, ConfigError, "a pipeline step of more than ",
           kMaxMicroBatches, " micro-batches (micro-batch ", micro_batch, ") would reuse message tags",
           "; raise training.micro_batch_size or lower training.global_batch_size");
  return static_cast<int>(2 * micro_batch + (gradient ? 1 : 0));
}

// The world: the pieces of a consolidated checkpoint, sent to its writers (ckpt/consolidated.cpp).
constexpr int kCheckpointPiece = 2 * kMaxMicroBatches;  // 32764
// The pp axis, between the first and last stage: the tied output embedding's gradient, and the
// embedding weight sent back after each update (train/tied_embedding.cpp).
constexpr int kTiedEmbeddingGrad = kCheckpointPiece + 1;    // 32765
constexpr int kTiedEmbeddingWeight = kCheckpointPiece + 2;  // 32766

}  // namespace nf::dist::p2p_tags
