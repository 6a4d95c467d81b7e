// The NCCL backend's dtype and reduce-op mapping and its tensor check (nccl_tensors.h).
#include "nf/dist/nccl_tensors.h"

#include "nf/core/error.h"

namespace nf::dist {

ncclDataType_t nccl_data_type(c10::ScalarType type) {
  switch (type) {
    case torch::kFloat:
      return ncclFloat32;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kHalf:
      return ncclFloat16;
    case torch::kDouble:
      return ncclFloat64;
    case torch::kLong:
      return ncclInt64;
    case torch::kInt:
      return ncclInt32;
    case torch::kChar:
      return ncclInt8;
    case torch::kByte:
      return ncclUint8;
    default:
      throw DistError("NCCL backend cannot carry tensors of type " + std::string(c10::toString(type)),
                      "NCCL moves and reduces fp32, bf16, fp16, fp64, int64, int32, int8 and uint8; convert the "
                      "tensor first (bool to uint8, int16 to int32)");
  }
}

ncclRedOp_t nccl_reduce_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
  }
  return ncclSum;
}

void check_nccl_tensor(const torch::Tensor& tensor, int device, const std::string& description) {
  if (tensor.defined() && tensor.is_cuda() && tensor.device().index() == device && tensor.is_contiguous()) return;
  const std::string found = !tensor.defined()         ? "an undefined tensor"
                            : !tensor.is_contiguous() ? "a non-contiguous tensor on " + tensor.device().str()
                                                      : "a tensor on " + tensor.device().str();
  throw DistError(
      description + ": NCCL needs a contiguous CUDA tensor on cuda:" + std::to_string(device) + ", got " + found,
      "host-side values go through the mesh's world communicator (MPI); move the tensor to this "
      "rank's device (and .contiguous()) to send it over tp, dp or pp");
}

}  // namespace nf::dist
