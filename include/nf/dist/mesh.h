// The device mesh: the tp × pp × dp layout of MeshShape made concrete as one communicator per
// axis (plus the world), built once from MPI_COMM_WORLD and passed explicitly as `const Mesh&`.
#pragma once

#include <mpi.h>

#include <memory>

#include "nf/dist/communicator.h"
#include "nf/dist/mesh_shape.h"

namespace nf::dist {

class Mesh {
 public:
  // Collective over `world`. Each axis communicator holds the ranks that differ only in that
  // axis's coordinate, ordered by it (so tp().rank() == coords().tp, and so on).
  //
  // `device` is where this rank's tensors live and picks the backend of tp, dp and pp: NCCL on a
  // CUDA device (which must carry its index: one device per rank), MPI on the CPU. world() is MPI
  // either way: it carries host-side agreement on CPU tensors (the preemption flag, the resume
  // check) and the barriers around checkpoint files, never model tensors.
  Mesh(const MeshShape& shape, MPI_Comm world, std::chrono::milliseconds timeout, const c10::Device& device);

  const MeshShape& shape() const { return shape_; }
  const MeshCoords& coords() const { return coords_; }
  Communicator& world() const { return *world_; }
  Communicator& tp() const { return *tp_; }
  Communicator& dp() const { return *dp_; }
  Communicator& pp() const { return *pp_; }

 private:
  MeshShape shape_;
  MeshCoords coords_;
  std::unique_ptr<Communicator> world_, tp_, dp_, pp_;
};

}  // namespace nf::dist
