// NcclCommunicator (nccl_communicator.h): each operation checks its tensors, orders its transfer
// after the caller's compute stream, enqueues it on a channel and returns an NcclWork.
#include "nf/dist/nccl_communicator.h"

#include "cuda_handles.h"
#include "nccl_channel.h"
#include "nccl_work.h"
#include "nf/dist/nccl_checks.h"
#include "nf/dist/nccl_tensors.h"
#include "nf/dist/watchdog.h"

namespace nf::dist {

using nccl::CudaEvent;
using nccl::DeviceScope;
using nccl::NcclChannel;

NcclCommunicator::NcclCommunicator(MPI_Comm comm, std::string axis, std::chrono::milliseconds timeout, int device,
                                   PointToPoint point_to_point)
    : axis_(std::move(axis)), timeout_(timeout), device_(device) {
  NF_CHECK_MPI(MPI_Comm_rank(comm, &rank_));
  NF_CHECK_MPI(MPI_Comm_size(comm, &size_));
  NF_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
  collectives_ = std::make_shared<NcclChannel>(comm, device_);
  if (point_to_point == PointToPoint::kOn && size_ > 1) {
    to_higher_ = std::make_shared<NcclChannel>(comm, device_);
    to_lower_ = std::make_shared<NcclChannel>(comm, device_);
  }
  const DeviceScope scope(device_);
  NF_CHECK_CUDA(cudaMalloc(&barrier_token_, sizeof(int32_t)));
  NF_CHECK_CUDA(cudaMemset(barrier_token_, 0, sizeof(int32_t)));
}

NcclCommunicator::~NcclCommunicator() {
  // The channels go first: while an exception unwinds they abort rather than wait for transfers,
  // and cudaFree waits for the device to go idle.
  collectives_.reset();
  to_higher_.reset();
  to_lower_.reset();
  cudaFree(barrier_token_);
}

ncclComm_t NcclCommunicator::handle() const { return collectives_->comm(); }

cudaStream_t NcclCommunicator::stream() const { return collectives_->stream(); }

std::string NcclCommunicator::describe(const std::string& operation) const {
  return describe_operation(operation, axis_, rank_, size_, world_rank_);
}

std::unique_ptr<Work> NcclCommunicator::launch(const std::shared_ptr<NcclChannel>& channel, std::string description,
                                               std::vector<torch::Tensor> keep_alive,
                                               const std::function<void(ncclComm_t, cudaStream_t)>& call) {
  NF_CHECK(!channel->aborted(), DistError, description,
           ": this axis's NCCL communicator was aborted after an earlier error");
  const DeviceScope scope(device_);
  // Mark an event on the compute stream and wait on it in the channel's stream, so the transfer
  // starts only after the kernels that produced its input (and last used its output buffer).
  const CudaEvent inputs_ready;
  NF_CHECK_CUDA(cudaEventRecord(inputs_ready.get(), nccl::compute_stream(device_)));
  NF_CHECK_CUDA(cudaStreamWaitEvent(channel->stream(), inputs_ready.get(), 0));
  call(channel->comm(), channel->stream());
  auto done = std::make_unique<CudaEvent>();
  NF_CHECK_CUDA(cudaEventRecord(done->get(), channel->stream()));
  return std::make_unique<nccl::NcclWork>(channel, std::move(done), device_, std::move(description), timeout_,
                                          std::move(keep_alive), blocked_ns_);
}

std::unique_ptr<Work> NcclCommunicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  std::string description = describe("all_reduce");
  check_nccl_tensor(tensor, device_, description);
  void* data = tensor.data_ptr();
  const size_t count = static_cast<size_t>(tensor.numel());
  const ncclDataType_t type = nccl_data_type(tensor.scalar_type());
  return launch(collectives_, std::move(description), {tensor}, [&](ncclComm_t comm, cudaStream_t stream) {
    NF_CHECK_NCCL(ncclAllReduce(data, data, count, type, nccl_reduce_op(op), comm, stream));
  });
}

std::unique_ptr<Work> NcclCommunicator::reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) {
  std::string description = describe("reduce_scatter");
  check_nccl_tensor(input, device_, description);
  check_nccl_tensor(output, device_, description);
  NF_CHECK(input.numel() == output.numel() * size_ && input.scalar_type() == output.scalar_type(), DistError,
           description, ": input has ", input.numel(), " elements, expected ", size_, " x ", output.numel(),
           " of the output's type");
  const size_t count = static_cast<size_t>(output.numel());
  const ncclDataType_t type = nccl_data_type(input.scalar_type());
  return launch(collectives_, std::move(description), {input, output}, [&](ncclComm_t comm, cudaStream_t stream) {
    NF_CHECK_NCCL(
        ncclReduceScatter(input.data_ptr(), output.data_ptr(), count, type, nccl_reduce_op(op), comm, stream));
  });
}

std::unique_ptr<Work> NcclCommunicator::all_gather(const torch::Tensor& input, torch::Tensor& output) {
  std::string description = describe("all_gather");
  check_nccl_tensor(input, device_, description);
  check_nccl_tensor(output, device_, description);
  NF_CHECK(output.numel() == input.numel() * size_ && input.scalar_type() == output.scalar_type(), DistError,
           description, ": output has ", output.numel(), " elements, expected ", size_, " x ", input.numel(),
           " of the input's type");
  const size_t count = static_cast<size_t>(input.numel());
  const ncclDataType_t type = nccl_data_type(input.scalar_type());
  return launch(collectives_, std::move(description), {input, output}, [&](ncclComm_t comm, cudaStream_t stream) {
    NF_CHECK_NCCL(ncclAllGather(input.data_ptr(), output.data_ptr(), count, type, comm, stream));
  });
}

std::unique_ptr<Work> NcclCommunicator::broadcast(torch::Tensor& tensor, int root) {
  std::string description = describe("broadcast from " + std::to_string(root));
  check_nccl_tensor(tensor, device_, description);
  NF_CHECK(root >= 0 && root < size_, DistError, description, ": root is not a rank of the axis (size ", size_, ")");
  void* data = tensor.data_ptr();
  const size_t count = static_cast<size_t>(tensor.numel());
  const ncclDataType_t type = nccl_data_type(tensor.scalar_type());
  return launch(collectives_, std::move(description), {tensor}, [&](ncclComm_t comm, cudaStream_t stream) {
    NF_CHECK_NCCL(ncclBroadcast(data, data, count, type, root, comm, stream));
  });
}

const std::shared_ptr<NcclChannel>& NcclCommunicator::point_to_point(const std::string& description, int from,
                                                                     int to) const {
  const int peer = from == rank_ ? to : from;
  NF_CHECK(peer >= 0 && peer < size_ && peer != rank_, DistError, description, ": peer ", peer,
           " is not another rank of the axis (size ", size_, ")");
  NF_CHECK(to_higher_ != nullptr, DistError, description,
           ": this NCCL communicator was built without point-to-point channels (PointToPoint::kOff; the mesh "
           "builds them for the pp axis only)");
  return to > from ? to_higher_ : to_lower_;
}

std::unique_ptr<Work> NcclCommunicator::send(const torch::Tensor& tensor, int peer, int tag) {
  std::string description = describe("send to " + std::to_string(peer) + " (tag " + std::to_string(tag) + ")");
  check_nccl_tensor(tensor, device_, description);
  const auto& channel = point_to_point(description, rank_, peer);
  const size_t count = static_cast<size_t>(tensor.numel());
  const ncclDataType_t type = nccl_data_type(tensor.scalar_type());
  return launch(channel, std::move(description), {tensor}, [&](ncclComm_t comm, cudaStream_t stream) {
    NF_CHECK_NCCL(ncclSend(tensor.data_ptr(), count, type, peer, comm, stream));
  });
}

std::unique_ptr<Work> NcclCommunicator::recv(torch::Tensor& tensor, int peer, int tag) {
  std::string description = describe("recv from " + std::to_string(peer) + " (tag " + std::to_string(tag) + ")");
  check_nccl_tensor(tensor, device_, description);
  const auto& channel = point_to_point(description, peer, rank_);
  const size_t count = static_cast<size_t>(tensor.numel());
  const ncclDataType_t type = nccl_data_type(tensor.scalar_type());
  return launch(channel, std::move(description), {tensor}, [&](ncclComm_t comm, cudaStream_t stream) {
    NF_CHECK_NCCL(ncclRecv(tensor.data_ptr(), count, type, peer, comm, stream));
  });
}

void NcclCommunicator::barrier() {
  // The token's value stays 0 (max of zeros); only the rendezvous matters.
  void* token = barrier_token_;
  launch(collectives_, describe("barrier"), {}, [&](ncclComm_t comm, cudaStream_t stream) {
    NF_CHECK_NCCL(ncclAllReduce(token, token, 1, ncclInt32, ncclMax, comm, stream));
  })->wait();
}

std::string NcclCommunicator::version_string() {
  int nccl = 0, runtime = 0;
  ncclGetVersion(&nccl);
  cudaRuntimeGetVersion(&runtime);
  return "NCCL " + std::to_string(nccl / 10000) + "." + std::to_string(nccl / 100 % 100) + "." +
         std::to_string(nccl % 100) + ", CUDA runtime " + std::to_string(runtime / 1000) + "." +
         std::to_string(runtime % 1000 / 10);
}

}  // namespace nf::dist
