// MpiCommunicator: MPI-3 non-blocking operations on contiguous CPU tensors, each completed by a
// Work that polls MPI_Test until done or until the collective timeout passes.
#include "nf/dist/mpi_communicator.h"

#include <exception>
#include <iostream>
#include <limits>

#include "nf/dist/checks.h"
#include "nf/dist/watchdog.h"

namespace nf::dist {
namespace {

using Clock = std::chrono::steady_clock;

MPI_Datatype mpi_type(const torch::Tensor& tensor, bool for_reduction) {
  switch (tensor.scalar_type()) {
    case torch::kFloat:
      return MPI_FLOAT;
    case torch::kDouble:
      return MPI_DOUBLE;
    case torch::kLong:
      return MPI_INT64_T;
    case torch::kInt:
      return MPI_INT32_T;
    case torch::kByte:
    case torch::kBool:
      return MPI_UINT8_T;
    case torch::kChar:
      return MPI_INT8_T;
    case torch::kBFloat16:
    case torch::kHalf:
      // MPI has no 16-bit float type: moving the bits is fine, reducing them is not.
      if (!for_reduction) return MPI_UINT16_T;
      [[fallthrough]];
    default:
      throw DistError(std::string("MPI backend cannot ") + (for_reduction ? "reduce" : "move") + " tensors of type " +
                          std::string(c10::toString(tensor.scalar_type())),
                      "reduce in float32 (the trainer keeps fp32 gradients on CPU)");
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return MPI_SUM;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  return MPI_SUM;
}

void check_cpu_contiguous(const torch::Tensor& tensor, const char* what) {
  NF_CHECK(tensor.defined() && tensor.device().is_cpu() && tensor.is_contiguous(), DistError, "MPI ", what,
           ": the tensor must be a contiguous CPU tensor");
}

int count_of(const torch::Tensor& tensor) {
  NF_CHECK(tensor.numel() <= std::numeric_limits<int>::max(), DistError, "tensor of ", tensor.numel(),
           " elements exceeds MPI's int count; split it into buckets");
  return static_cast<int>(tensor.numel());
}

class MpiWork : public Work {
 public:
  MpiWork(MPI_Request request, std::string description, std::chrono::milliseconds timeout,
          std::vector<torch::Tensor> keep_alive, std::shared_ptr<std::atomic<int64_t>> blocked_ns)
      : request_(request),
        description_(std::move(description)),
        timeout_(timeout),
        keep_alive_(std::move(keep_alive)),
        blocked_ns_(std::move(blocked_ns)) {}

  ~MpiWork() override {
    if (done_ || std::uncaught_exceptions() > 0) return;  // when unwinding, the job is ending anyway
    try {
      wait();
    } catch (const std::exception& e) {
      // A destructor cannot throw; a stalled operation here must still end the whole job.
      std::cerr << e.what() << std::endl;
      MPI_Abort(MPI_COMM_WORLD, static_cast<int>(ExitCode::kDistributed));
    }
  }

  void wait() override {
    if (done_) return;
    const auto start = Clock::now();
    const auto deadline = start + timeout_;
    // MPI_Test drives progress of non-blocking collectives.
    for (PollBackoff backoff;; backoff.pause()) {
      int flag = 0;
      NF_CHECK_MPI(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE));
      if (flag) break;
      if (Clock::now() > deadline) throw timeout_error(description_, timeout_);
    }
    done_ = true;
    keep_alive_.clear();
    *blocked_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  }

 private:
  MPI_Request request_;
  std::string description_;
  std::chrono::milliseconds timeout_;
  std::vector<torch::Tensor> keep_alive_;             // buffers MPI is reading or writing until done
  std::shared_ptr<std::atomic<int64_t>> blocked_ns_;  // the communicator's blocked_seconds()
  bool done_ = false;
};

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string axis, std::chrono::milliseconds timeout)
    : axis_(std::move(axis)), timeout_(timeout) {
  NF_CHECK_MPI(MPI_Comm_dup(comm, &comm_));
  NF_CHECK_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  NF_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  NF_CHECK_MPI(MPI_Comm_size(comm_, &size_));
  NF_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
}

MpiCommunicator::~MpiCommunicator() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

std::unique_ptr<Work> MpiCommunicator::make_work(MPI_Request request, std::string operation,
                                                 std::vector<torch::Tensor> keep_alive) const {
  return std::make_unique<MpiWork>(request, describe_operation(operation, axis_, rank_, size_, world_rank_), timeout_,
                                   std::move(keep_alive), blocked_ns_);
}

std::unique_ptr<Work> MpiCommunicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  check_cpu_contiguous(tensor, "all_reduce");
  MPI_Request request;
  NF_CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, tensor.data_ptr(), count_of(tensor), mpi_type(tensor, true), mpi_op(op),
                              comm_, &request));
  return make_work(request, "all_reduce", {tensor});
}

std::unique_ptr<Work> MpiCommunicator::reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) {
  check_cpu_contiguous(input, "reduce_scatter");
  check_cpu_contiguous(output, "reduce_scatter");
  NF_CHECK(input.numel() == output.numel() * size_ && input.scalar_type() == output.scalar_type(), DistError,
           "reduce_scatter on axis ", axis_, ": input has ", input.numel(), " elements, expected ", size_, " x ",
           output.numel(), " of the output's type");
  MPI_Request request;
  NF_CHECK_MPI(MPI_Ireduce_scatter_block(input.data_ptr(), output.data_ptr(), count_of(output), mpi_type(input, true),
                                         mpi_op(op), comm_, &request));
  return make_work(request, "reduce_scatter", {input, output});
}

std::unique_ptr<Work> MpiCommunicator::all_gather(const torch::Tensor& input, torch::Tensor& output) {
  check_cpu_contiguous(input, "all_gather");
  check_cpu_contiguous(output, "all_gather");
  NF_CHECK(output.numel() == input.numel() * size_ && input.scalar_type() == output.scalar_type(), DistError,
           "all_gather on axis ", axis_, ": output has ", output.numel(), " elements, expected ", size_, " x ",
           input.numel(), " of the input's type");
  MPI_Request request;
  const MPI_Datatype type = mpi_type(input, false);
  NF_CHECK_MPI(MPI_Iallgather(input.data_ptr(), count_of(input), type, output.data_ptr(), count_of(input), type, comm_,
                              &request));
  return make_work(request, "all_gather", {input, output});
}

std::unique_ptr<Work> MpiCommunicator::broadcast(torch::Tensor& tensor, int root) {
  check_cpu_contiguous(tensor, "broadcast");
  MPI_Request request;
  NF_CHECK_MPI(MPI_Ibcast(tensor.data_ptr(), count_of(tensor), mpi_type(tensor, false), root, comm_, &request));
  return make_work(request, "broadcast from " + std::to_string(root), {tensor});
}

std::unique_ptr<Work> MpiCommunicator::send(const torch::Tensor& tensor, int peer, int tag) {
  check_cpu_contiguous(tensor, "send");
  MPI_Request request;
  NF_CHECK_MPI(MPI_Isend(tensor.data_ptr(), count_of(tensor), mpi_type(tensor, false), peer, tag, comm_, &request));
  return make_work(request, "send to " + std::to_string(peer) + " (tag " + std::to_string(tag) + ")", {tensor});
}

std::unique_ptr<Work> MpiCommunicator::recv(torch::Tensor& tensor, int peer, int tag) {
  check_cpu_contiguous(tensor, "recv");
  MPI_Request request;
  NF_CHECK_MPI(MPI_Irecv(tensor.data_ptr(), count_of(tensor), mpi_type(tensor, false), peer, tag, comm_, &request));
  return make_work(request, "recv from " + std::to_string(peer) + " (tag " + std::to_string(tag) + ")", {tensor});
}

void MpiCommunicator::barrier() {
  MPI_Request request;
  NF_CHECK_MPI(MPI_Ibarrier(comm_, &request));
  make_work(request, "barrier", {})->wait();
}

}  // namespace nf::dist
