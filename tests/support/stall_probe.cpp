// A test program for the collective watchdog: every rank all-reduces in a loop over a world
// communicator with a 2 s timeout, while rank R misbehaves — `stall_probe stall R` sleeps instead
// of joining, `stall_probe kill R` SIGKILLs itself. Either way the whole job must end promptly
// and non-zero; a stall must be reported by the waiting ranks naming the operation and axis.
#include <signal.h>
#include <unistd.h>

#include "nf/core/error.h"
#include "nf/dist/job.h"
#include "nf/dist/mpi_communicator.h"

int main(int argc, char** argv) {
  return nf::dist::run_job(argc, argv, [](const nf::dist::JobContext& job) {
    if (job.args.size() != 2) throw nf::UsageError("usage: stall_probe stall|kill RANK");
    const int victim = std::stoi(job.args[1]);
    nf::dist::MpiCommunicator world(MPI_COMM_WORLD, "world", std::chrono::seconds(2));
    for (int step = 0; step < 1000; ++step) {
      if (job.rank == victim && step == 3) {
        if (job.args[0] == "kill") ::raise(SIGKILL);
        ::sleep(60);
      }
      torch::Tensor value = torch::ones({1024});
      world.all_reduce(value, nf::dist::ReduceOp::kSum)->wait();
      ::usleep(10000);
    }
    return 0;
  });
}
