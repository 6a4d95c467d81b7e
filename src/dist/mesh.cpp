// Mesh: splits the world communicator into the tp, dp and pp axis communicators.
#include "nf/dist/mesh.h"

#include "nf/dist/checks.h"
#include "nf/dist/mpi_communicator.h"

namespace nf::dist {
namespace {

// The ranks sharing every coordinate but `axis` form one group (color); within it the axis
// coordinate orders them (key).
std::unique_ptr<Communicator> split(MPI_Comm world, int color, int key, const char* axis,
                                    std::chrono::milliseconds timeout) {
  MPI_Comm part = MPI_COMM_NULL;
  NF_CHECK_MPI(MPI_Comm_split(world, color, key, &part));
  auto communicator = std::make_unique<MpiCommunicator>(part, axis, timeout);
  MPI_Comm_free(&part);
  return communicator;
}

}  // namespace

Mesh::Mesh(const MeshShape& shape, MPI_Comm world, std::chrono::milliseconds timeout) : shape_(shape) {
  int rank = 0, size = 0;
  NF_CHECK_MPI(MPI_Comm_rank(world, &rank));
  NF_CHECK_MPI(MPI_Comm_size(world, &size));
  NF_CHECK(size == shape.world_size(), DistError, "mesh ", shape.describe(), " built over a world of ", size, " ranks");
  coords_ = shape.coords(rank);
  const int64_t tp = shape.tp(), dp = shape.dp();
  world_ = std::make_unique<MpiCommunicator>(world, "world", timeout);
  tp_ = split(world, static_cast<int>(coords_.pp * dp + coords_.dp), static_cast<int>(coords_.tp), "tp", timeout);
  dp_ = split(world, static_cast<int>(coords_.pp * tp + coords_.tp), static_cast<int>(coords_.dp), "dp", timeout);
  pp_ = split(world, static_cast<int>(coords_.dp * tp + coords_.tp), static_cast<int>(coords_.pp), "pp", timeout);
}

}  // namespace nf::dist
