// The parts of the collective watchdog that every backend shares: how a pending operation is
// named in an error, the error a timeout raises, and the back-off between polls. MPI's and
// NCCL's Work::wait() both use them, so a stall reads the same whichever library carried it.
#pragma once

#include <chrono>
#include <string>

#include "nf/core/error.h"

namespace nf::dist {

// "all_reduce on axis dp (rank 1 of 2, world rank 3)": `rank` of `size` within the axis.
std::string describe_operation(const std::string& operation, const std::string& axis, int rank, int size,
                               int world_rank);

// What Work::wait() throws when `timeout` passed before the operation `description` completed.
DistError timeout_error(const std::string& description, std::chrono::milliseconds timeout);

// Paces a polling loop: tight polls first (short operations finish within microseconds), then
// sleeps, so that oversubscribed ranks leave the core to the peers they are waiting for.
class PollBackoff {
 public:
  void pause();

 private:
  int polls_ = 0;
};

}  // namespace nf::dist
