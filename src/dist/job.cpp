// MPI bootstrap and the exception-to-exit-code wrapper shared by every program's main.
#include "nf/dist/job.h"

#include <mpi.h>

#include <filesystem>
#include <iostream>

#include "nf/core/error.h"

namespace nf::dist {
namespace {

// This process's rank among those on its node, and their number.
void place_on_node(JobContext& job) {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &job.local_rank);
  MPI_Comm_size(node, &job.local_size);
  MPI_Comm_free(&node);
}

void report(const JobContext& job, const char* kind, const std::string& message, const std::string& hint) {
  // One write, so that lines of ranks failing together do not interleave mid-line.
  std::string text = "[rank " + std::to_string(job.rank) + "/" + std::to_string(job.world_size) + "] " + job.program +
                     ": " + kind + ": " + message + "\n";
  if (!hint.empty()) text += "  hint: " + hint + "\n";
  std::cerr << text << std::flush;
}

}  // namespace

int run_job(int argc, char** argv, const std::function<int(const JobContext&)>& body) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  JobContext job;
  job.program = std::filesystem::path(argv[0]).filename().string();
  job.args.assign(argv + 1, argv + argc);
  // Failed MPI calls return their error code to NF_CHECK_MPI, which throws with context, instead
  // of OpenMPI's default of aborting without saying where.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &job.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &job.world_size);
  place_on_node(job);

  int code = 0;
  bool failed = false;
  try {
    code = body(job);
  } catch (const Error& e) {
    report(job, e.kind(), e.what(), e.hint());
    code = static_cast<int>(e.exit_code());
    failed = true;
  } catch (const std::exception& e) {
    report(job, "internal error", e.what(), "this is a bug in NeuralFlow; please report it with the log");
    code = static_cast<int>(ExitCode::kInternal);
    failed = true;
  }
  if (failed && job.world_size > 1) {
    // Other ranks may be blocked in a collective that this rank will never join: end them all.
    MPI_Abort(MPI_COMM_WORLD, code);
  }
  MPI_Finalize();
  return code;
}

}  // namespace nf::dist
