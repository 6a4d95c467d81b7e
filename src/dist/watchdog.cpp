// The watchdog's shared message formats and polling back-off (watchdog.h).
#include "nf/dist/watchdog.h"

#include <cstdio>
#include <thread>

namespace nf::dist {

std::string describe_operation(const std::string& operation, const std::string& axis, int rank, int size,
                               int world_rank) {
  return operation + " on axis " + axis + " (rank " + std::to_string(rank) + " of " + std::to_string(size) +
         ", world rank " + std::to_string(world_rank) + ")";
}

DistError timeout_error(const std::string& description, std::chrono::milliseconds timeout) {
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%.1f", static_cast<double>(timeout.count()) / 1000.0);
  return DistError(description + " did not complete within " + seconds + " s: a peer rank died or stalled",
                   "look for an earlier error from another rank; if steps are legitimately this slow, raise "
                   "parallel.collective_timeout_s");
}

void PollBackoff::pause() {
  ++polls_;
  if (polls_ > 1000) std::this_thread::sleep_for(std::chrono::microseconds(polls_ > 5000 ? 500 : 20));
}

}  // namespace nf::dist
