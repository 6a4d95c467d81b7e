// The collectives' names and nccl-tests' bus-bandwidth factors (see its doc/PERFORMANCE.md).
#include "collective_target.h"

namespace nf::bench {

const char* name_of(Collective collective) {
  switch (collective) {
    case Collective::kAllReduce:
      return "all_reduce";
    case Collective::kReduceScatter:
      return "reduce_scatter";
    case Collective::kAllGather:
      return "all_gather";
    case Collective::kSendRecv:
      return "sendrecv";
  }
  return "?";
}

const std::vector<Collective>& all_collectives() {
  static const std::vector<Collective> all = {Collective::kAllReduce, Collective::kReduceScatter,
                                              Collective::kAllGather, Collective::kSendRecv};
  return all;
}

int64_t bytes_of(Element element) { return element == Element::kBFloat16 ? 2 : 4; }

double bus_factor(Collective collective, int ranks) {
  const double ring = static_cast<double>(ranks - 1) / ranks;
  switch (collective) {
    case Collective::kAllReduce:
      return 2 * ring;
    case Collective::kReduceScatter:
    case Collective::kAllGather:
      return ring;
    case Collective::kSendRecv:
      return 1;
  }
  return 0;
}

}  // namespace nf::bench
