// The device a rank computes on: one GPU per rank, its local rank's, when LibTorch sees CUDA
// devices; else the CPU.
#pragma once

#include <c10/core/Device.h>

#include "nf/dist/job.h"

namespace nf::dist {

// NCCL cannot put two ranks of one communicator on the same GPU, so a local rank beyond the node's
// GPUs is a UsageError with the fix.
c10::Device rank_device(const JobContext& job);

// The device rank_device() would choose, without its check (local rank modulo the GPUs), so that a
// plan for more ranks than this node has GPUs can still be made.
c10::Device planned_device(const JobContext& job);

}  // namespace nf::dist
