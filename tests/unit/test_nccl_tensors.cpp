// What the NCCL backend accepts, checked without a GPU: every supported dtype maps to its NCCL
// type, others are refused naming the type, and a CPU or non-contiguous tensor is refused naming
// the operation before anything reaches NCCL.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nf/dist/nccl_tensors.h"
#include "nf/dist/watchdog.h"

namespace nf::dist {
namespace {

// The message of the DistError `call` throws ("" when it throws none).
template <class Call>
std::string dist_error_of(Call call) {
  try {
    call();
  } catch (const DistError& e) {
    return e.what();
  }
  return "";
}

TEST(NcclTensors, EverySupportedTypeMapsToItsNcclType) {
  EXPECT_EQ(nccl_data_type(torch::kFloat), ncclFloat32);
  EXPECT_EQ(nccl_data_type(torch::kBFloat16), ncclBfloat16);
  EXPECT_EQ(nccl_data_type(torch::kHalf), ncclFloat16);
  EXPECT_EQ(nccl_data_type(torch::kDouble), ncclFloat64);
  EXPECT_EQ(nccl_data_type(torch::kLong), ncclInt64);
  EXPECT_EQ(nccl_data_type(torch::kInt), ncclInt32);
  EXPECT_EQ(nccl_data_type(torch::kChar), ncclInt8);
  EXPECT_EQ(nccl_data_type(torch::kByte), ncclUint8);
}

TEST(NcclTensors, TypesNcclLacksAreRefusedByName) {
  EXPECT_NE(dist_error_of([] { nccl_data_type(torch::kShort); }).find("cannot carry tensors of type Short"),
            std::string::npos);
  EXPECT_NE(dist_error_of([] { nccl_data_type(torch::kBool); }).find("type Bool"), std::string::npos);
  EXPECT_NE(dist_error_of([] { nccl_data_type(torch::kComplexFloat); }).find("type ComplexFloat"), std::string::npos);
}

TEST(NcclTensors, ReduceOpsMap) {
  EXPECT_EQ(nccl_reduce_op(ReduceOp::kSum), ncclSum);
  EXPECT_EQ(nccl_reduce_op(ReduceOp::kMax), ncclMax);
  EXPECT_EQ(nccl_reduce_op(ReduceOp::kMin), ncclMin);
}

TEST(NcclTensors, HostAndUndefinedTensorsAreRefusedNamingTheOperation) {
  const std::string description = describe_operation("all_reduce", "dp", 1, 2, 3);
  EXPECT_EQ(dist_error_of([&] { check_nccl_tensor(torch::ones({4}), 0, description); }),
            "all_reduce on axis dp (rank 1 of 2, world rank 3): NCCL needs a contiguous CUDA tensor on cuda:0, got a "
            "tensor on cpu");
  EXPECT_NE(dist_error_of([&] { check_nccl_tensor(torch::Tensor(), 1, description); }).find("got an undefined tensor"),
            std::string::npos);
  EXPECT_NE(dist_error_of([&] {
              check_nccl_tensor(torch::ones({4, 4}).t(), 0, description);
            }).find("got a non-contiguous tensor on cpu"),
            std::string::npos);
}

TEST(Watchdog, TimeoutMessageNamesOperationAxisAndRank) {
  const DistError error =
      timeout_error(describe_operation("send to 2 (tag 5)", "pp", 1, 4, 6), std::chrono::milliseconds(2500));
  EXPECT_STREQ(error.what(),
               "send to 2 (tag 5) on axis pp (rank 1 of 4, world rank 6) did not complete within 2.5 s: a peer rank "
               "died or stalled");
  EXPECT_NE(error.hint().find("parallel.collective_timeout_s"), std::string::npos);
}

}  // namespace
}  // namespace nf::dist
