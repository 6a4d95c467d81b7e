// What the NCCL backend accepts, and how it names it to NCCL: LibTorch dtypes and reduce ops as
// NCCL's types, and the check that a tensor is one NCCL can read (contiguous, CUDA, on this
// rank's device). Pure functions, unit-tested without a GPU. Include only with NF_HAVE_NCCL.
#pragma once

#include <nccl.h>
#include <torch/types.h>

#include <string>

#include "nf/dist/communicator.h"

namespace nf::dist {

// fp32, bf16, fp16, fp64, int64, int32, int8 and uint8; DistError naming any other type.
ncclDataType_t nccl_data_type(c10::ScalarType type);
ncclRedOp_t nccl_reduce_op(ReduceOp op);

// DistError unless `tensor` is a contiguous CUDA tensor on device `device`. `description` names
// the operation (watchdog.h's describe_operation) and starts the message.
void check_nccl_tensor(const torch::Tensor& tensor, int device, const std::string& description);

}  // namespace nf::dist
