// The one `main` wrapper of every NeuralFlow program: brings MPI up and down, and turns an
// exception on any rank into one clear line and an exit code. When the job has more than one
// rank, the failing rank calls MPI_Abort so that no other rank is left waiting in a collective.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace nf::dist {

// What a program's body receives: its arguments (without argv[0]) and its place in the job.
struct JobContext {
  std::string program;
  std::vector<std::string> args;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // rank among the processes on this node (MPI_Comm_split_type SHARED)
  int local_size = 1;  // the processes on this node
};

// Runs `body` between MPI_Init_thread and MPI_Finalize. Returns the process exit code: the
// body's on success; on an nf::Error its exit_code(); 1 on any other exception. The error is
// printed as "[rank R/N] <program>: <kind>: <message>" followed by "  hint: <hint>".
int run_job(int argc, char** argv, const std::function<int(const JobContext&)>& body);

}  // namespace nf::dist
