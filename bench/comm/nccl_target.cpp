// The CUDA target of bench-comm (built with NF_HAVE_NCCL): nf's NCCL backend against the NCCL
// calls it wraps, on the same communicator, stream and device buffers. Every operation ends with
// a stream synchronisation on both sides, so host timing measures the whole collective.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "collective_target.h"
#include "nf/dist/nccl_checks.h"
#include "nf/dist/nccl_communicator.h"

namespace nf::bench {
namespace {

// A cudaMalloc'ed buffer, zeroed, freed on destruction.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) {
    NF_CHECK_CUDA(cudaMalloc(&data_, bytes));
    NF_CHECK_CUDA(cudaMemset(data_, 0, bytes));
  }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
};

int device_for(int local_rank) {
  const int devices = dist::NcclCommunicator::device_count();
  if (devices == 0) {
    throw UsageError(
        "--device cuda: no CUDA device is visible to this rank (" + dist::NcclCommunicator::version_string() + ")",
        "run on a GPU node, check CUDA_VISIBLE_DEVICES, or use --device cpu");
  }
  return local_rank % devices;
}

class NcclTarget : public CollectiveTarget {
 public:
  NcclTarget(MPI_Comm comm, Element element, int64_t max_count, int local_rank)
      : comm_(comm, device_for(local_rank)),
        element_(element == Element::kBFloat16 ? dist::NcclCommunicator::Element::kBFloat16
                                               : dist::NcclCommunicator::Element::kFloat32),
        nccl_type_(element == Element::kBFloat16 ? ncclBfloat16 : ncclFloat32),
        full_(static_cast<size_t>(max_count * bytes_of(element))),
        chunk_(static_cast<size_t>(max_count / comm_.size() * bytes_of(element))) {}

  void select_count(int64_t count) override {
    count_ = static_cast<size_t>(count);
    chunk_count_ = count_ / static_cast<size_t>(comm_.size());
  }

  std::vector<std::string> sides() const override { return {"nf", "raw"}; }

  void run(size_t side, Collective collective) override {
    if (side == 0) return run_nf(collective);
    run_reference(collective);
  }

  std::string describe() const override {
    return "device cuda " + std::to_string(comm_.device()) + ", " + dist::NcclCommunicator::version_string() +
           "\nnf: nf::dist::NcclCommunicator (all_reduce_sum_sync / reduce_scatter_sum_sync / all_gather_sync)\n"
           "raw: ncclAllReduce / ncclReduceScatter / ncclAllGather + cudaStreamSynchronize on the same communicator, "
           "stream and buffers";
  }

 private:
  void run_nf(Collective collective) {
    switch (collective) {
      case Collective::kAllReduce:
        comm_.all_reduce_sum_sync(full_.data(), count_, element_);
        return;
      case Collective::kReduceScatter:
        comm_.reduce_scatter_sum_sync(full_.data(), chunk_.data(), chunk_count_, element_);
        return;
      case Collective::kAllGather:
        comm_.all_gather_sync(chunk_.data(), full_.data(), chunk_count_, element_);
        return;
    }
  }

  void run_reference(Collective collective) {
    switch (collective) {
      case Collective::kAllReduce:
        NF_CHECK_NCCL(
            ncclAllReduce(full_.data(), full_.data(), count_, nccl_type_, ncclSum, comm_.handle(), comm_.stream()));
        break;
      case Collective::kReduceScatter:
        NF_CHECK_NCCL(ncclReduceScatter(full_.data(), chunk_.data(), chunk_count_, nccl_type_, ncclSum, comm_.handle(),
                                        comm_.stream()));
        break;
      case Collective::kAllGather:
        NF_CHECK_NCCL(
            ncclAllGather(chunk_.data(), full_.data(), chunk_count_, nccl_type_, comm_.handle(), comm_.stream()));
        break;
    }
    NF_CHECK_CUDA(cudaStreamSynchronize(comm_.stream()));
  }

  dist::NcclCommunicator comm_;
  dist::NcclCommunicator::Element element_;
  ncclDataType_t nccl_type_;
  DeviceBuffer full_, chunk_;
  size_t count_ = 0, chunk_count_ = 0;
};

}  // namespace

std::unique_ptr<CollectiveTarget> make_nccl_target(MPI_Comm comm, Element element, int64_t max_count, int local_rank) {
  return std::make_unique<NcclTarget>(comm, element, max_count, local_rank);
}

}  // namespace nf::bench
