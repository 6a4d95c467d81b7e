// An RAII NCCL communicator built over an MPI communicator: rank 0 creates the NCCL unique id
// and broadcasts it with MPI, then every rank joins with ncclCommInitRank. Compiled whenever the
// CUDA toolkit and nccl.h are present (NF_HAVE_NCCL), even where LibTorch has no CUDA, so the
// NCCL code is at least compiled in CI; it runs only on GPU machines.
#pragma once

#include <mpi.h>

#include <string>

#include "nf/dist/checks.h"

// Forward declarations keep CUDA and NCCL headers out of every includer.
typedef struct ncclComm* ncclComm_t;
typedef struct CUstream_st* cudaStream_t;

namespace nf::dist {

class NcclCommunicator {
 public:
  // Collective over `comm`: every rank of it must call this together. `device` is the CUDA
  // device this rank drives (usually its local rank).
  NcclCommunicator(MPI_Comm comm, int device);
  ~NcclCommunicator();
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }
  ncclComm_t handle() const { return comm_; }
  // The stream collectives run on; the caller orders it against its compute stream with events.
  cudaStream_t stream() const { return stream_; }

  // The element types the collectives below move: fp32 (gradients) and bf16.
  enum class Element { kFloat32, kBFloat16 };

  // Each collective runs on stream() over device pointers, then waits for it.
  // In-place sum of `count` elements at `data`.
  void all_reduce_sum_sync(void* data, size_t count, Element element = Element::kFloat32);
  // `input` holds size() chunks of `output_count` elements; `output` receives the sum of chunk rank().
  void reduce_scatter_sum_sync(const void* input, void* output, size_t output_count, Element element);
  // `output` receives size() chunks of `input_count` elements, chunk r being rank r's `input`.
  void all_gather_sync(const void* input, void* output, size_t input_count, Element element);

  // "NCCL 2.28.x, CUDA runtime 13.0": what this build runs with.
  static std::string version_string();
  // Number of CUDA devices visible; 0 when there is no driver or no GPU.
  static int device_count();

 private:
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  int rank_ = 0;
  int size_ = 1;
  int device_ = 0;
};

}  // namespace nf::dist
