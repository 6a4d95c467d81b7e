// A test program for the job wrapper (nf/dist/job.h): `fault_probe throw R` makes rank R throw a
// DataError while every other rank waits in a barrier it will never complete; `fault_probe hang R`
// makes rank R sleep forever instead. The first must end the whole job promptly with one clear
// line; the second is what the test harness's timeouts must catch.
#include <mpi.h>
#include <unistd.h>

#include <string>

#include "nf/core/error.h"
#include "nf/dist/job.h"

int main(int argc, char** argv) {
  return nf::dist::run_job(argc, argv, [](const nf::dist::JobContext& job) {
    if (job.args.size() != 2) throw nf::UsageError("usage: fault_probe throw|hang RANK");
    const int victim = std::stoi(job.args[1]);
    if (job.rank == victim) {
      if (job.args[0] == "throw")
        throw nf::DataError("injected failure at offset 42", "nothing to fix: this is a test");
      for (;;) ::pause();
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return 0;
  });
}
