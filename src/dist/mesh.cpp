// Mesh: splits the world communicator into the tp, dp and pp axis communicators, on the backend
// of the device: MPI for CPU tensors, NCCL for CUDA tensors.
#include "nf/dist/mesh.h"

#include <string>

#include "nf/dist/checks.h"
#include "nf/dist/mpi_communicator.h"
#ifdef NF_HAVE_NCCL
#include "nf/dist/nccl_communicator.h"
#endif

namespace nf::dist {
namespace {

std::unique_ptr<Communicator> axis_communicator(MPI_Comm part, const std::string& axis,
                                                std::chrono::milliseconds timeout, const c10::Device& device) {
  if (!device.is_cuda()) return std::make_unique<MpiCommunicator>(part, axis, timeout);
#ifdef NF_HAVE_NCCL
  NF_CHECK(device.has_index(), UsageError, "mesh: device ", device.str(), " has no index; pass this rank's cuda:N");
  // Only the pipeline axis sends point to point (activations, their gradients, tied embeddings).
  const auto point_to_point = axis == "pp" ? NcclCommunicator::PointToPoint::kOn : NcclCommunicator::PointToPoint::kOff;
  return std::make_unique<NcclCommunicator>(part, axis, timeout, device.index(), point_to_point);
#else
  throw DistError("tensors on " + device.str() + " need the NCCL backend, and this build has none",
                  "configure where CMake finds nccl.h and libnccl (/usr/local/cuda or CUDA_HOME); CMake's "
                  "summary line says 'NCCL sources ON'");
#endif
}

// The ranks sharing every coordinate but `axis` form one group (color); within it the axis
// coordinate orders them (key).
std::unique_ptr<Communicator> split(MPI_Comm world, int color, int key, const std::string& axis,
                                    std::chrono::milliseconds timeout, const c10::Device& device) {
  MPI_Comm part = MPI_COMM_NULL;
  NF_CHECK_MPI(MPI_Comm_split(world, color, key, &part));
  auto communicator = axis_communicator(part, axis, timeout, device);
  MPI_Comm_free(&part);
  return communicator;
}

}  // namespace

Mesh::Mesh(const MeshShape& shape, MPI_Comm world, std::chrono::milliseconds timeout, const c10::Device& device)
    : shape_(shape) {
  int rank = 0, size = 0;
  NF_CHECK_MPI(MPI_Comm_rank(world, &rank));
  NF_CHECK_MPI(MPI_Comm_size(world, &size));
  NF_CHECK(size == shape.world_size(), DistError, "mesh ", shape.describe(), " built over a world of ", size, " ranks");
  coords_ = shape.coords(rank);
  const int64_t tp = shape.tp(), dp = shape.dp();
  world_ = std::make_unique<MpiCommunicator>(world, "world", timeout);
  tp_ =
      split(world, static_cast<int>(coords_.pp * dp + coords_.dp), static_cast<int>(coords_.tp), "tp", timeout, device);
  dp_ =
      split(world, static_cast<int>(coords_.pp * tp + coords_.tp), static_cast<int>(coords_.dp), "dp", timeout, device);
  pp_ =
      split(world, static_cast<int>(coords_.dp * tp + coords_.tp), static_cast<int>(coords_.pp), "pp", timeout, device);
}

}  // namespace nf::dist
