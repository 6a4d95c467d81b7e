// bench-comm: all_reduce (sum), reduce_scatter (sum), all_gather and sendrecv (each rank to the
// next, as pipeline stages pass activations on) over message sizes, through nf's Communicator layer
// and, taking turns with it in the same run, through the raw library calls on the same buffers (MPI
// on --device cpu, NCCL on --device cuda). Prints nccl-tests' columns for every side and the ratios
// of the times, so the cost of nf's layer (and its watchdog) is visible; --jsonl FILE also appends
// every row to FILE as one JSON object, for the scaling suite's driver.
//   mpirun -n 2 build/bench/bench-comm [--min-bytes 1K] [--max-bytes 256M] [--factor 2]
//          [--iterations 20] [--warmup 5] [--ops all_reduce,reduce_scatter,all_gather,sendrecv]
//          [--dtype fp32|bf16] [--device cpu|cuda] [--jsonl FILE]
#include <mpi.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "comm/collective_target.h"
#include "nf/core/cli.h"
#include "nf/core/error.h"
#include "nf/dist/checks.h"
#include "nf/dist/job.h"

namespace {

using nf::bench::Collective;
using nf::bench::CollectiveTarget;
using nf::bench::Element;
using Clock = std::chrono::steady_clock;

// --ops' choices, and its default: every collective.
std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (Collective collective : nf::bench::all_collectives()) names.push_back(nf::bench::name_of(collective));
  return names;
}

struct Options {
  uint64_t min_bytes = 1024, max_bytes = 256ull << 20;
  int factor = 2, iterations = 20, warmup = 5;
  std::vector<std::string> ops = op_names();
  std::string dtype = "fp32", device = "cpu";
  std::string jsonl;  // --jsonl: where rank 0 appends the rows; empty: the table only
};

// One measured row: a collective at one size, and each side's median time.
struct Row {
  Collective collective;
  int64_t bytes, count;
  std::vector<double> seconds;  // per side, in sides() order
};

// nccl-tests' bandwidths of one side's time, in GB/s.
struct Bandwidth {
  double algbw, busbw;
};

Bandwidth bandwidth(const Row& row, size_t side, int ranks) {
  const double algbw = static_cast<double>(row.bytes) / row.seconds[side] / 1e9;
  return {algbw, algbw * nf::bench::bus_factor(row.collective, ranks)};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The median time of each side over `iterations`, each iteration's time being its slowest rank's:
// a collective is done when every rank is. The sides take turns within an iteration, starting one
// further every iteration, so that load from other processes and the cache state one side leaves
// behind fall on every side alike.
std::vector<double> measure(CollectiveTarget& target, Collective collective, const Options& options) {
  const size_t sides = target.sides().size();
  for (int i = 0; i < options.warmup; ++i) {
    for (size_t side = 0; side < sides; ++side) target.run(side, collective);
  }
  std::vector<std::vector<double>> times(sides, std::vector<double>(options.iterations));
  for (int i = 0; i < options.iterations; ++i) {
    for (size_t turn = 0; turn < sides; ++turn) {
      const size_t side = (turn + static_cast<size_t>(i)) % sides;
      // Every rank starts together, so the time is the collective's, not a late peer's.
      NF_CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));
      const auto start = Clock::now();
      target.run(side, collective);
      times[side][i] = std::chrono::duration<double>(Clock::now() - start).count();
    }
  }
  std::vector<double> medians;
  for (auto& side_times : times) {
    NF_CHECK_MPI(
        MPI_Allreduce(MPI_IN_PLACE, side_times.data(), options.iterations, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
    medians.push_back(median(side_times));
  }
  return medians;
}

// The collectives of --ops, in the table's order.
std::vector<Collective> parse_ops(const std::vector<std::string>& names) {
  std::vector<Collective> ops;
  for (Collective collective : nf::bench::all_collectives()) {
    if (std::find(names.begin(), names.end(), nf::bench::name_of(collective)) != names.end()) {
      ops.push_back(collective);
    }
  }
  return ops;
}

std::unique_ptr<CollectiveTarget> make_target(const Options& options, Element element, int64_t max_count,
                                              const nf::dist::JobContext& job) {
  if (options.device == "cpu") return nf::bench::make_mpi_target(MPI_COMM_WORLD, element, max_count);
#ifdef NF_HAVE_NCCL
  return nf::bench::make_nccl_target(MPI_COMM_WORLD, element, max_count, job.local_rank);
#else
  (void)job;
  throw nf::UsageError(
      "--device cuda: this build has no NCCL backend (nccl.h and libnccl were not found when "
      "CMake configured it)",
      "configure on a machine with the CUDA toolkit and NCCL (/usr/local/cuda or CUDA_HOME), or "
      "use --device cpu");
#endif
}

void check(const Options& options, Element element, const std::vector<Collective>& ops) {
  if (options.min_bytes == 0 || options.min_bytes > options.max_bytes) {
    throw nf::UsageError("--min-bytes " + std::to_string(options.min_bytes) + " must be at least 1 and at most " +
                         "--max-bytes " + std::to_string(options.max_bytes));
  }
  const bool reduces = std::any_of(ops.begin(), ops.end(), [](Collective c) {
    return c == Collective::kAllReduce || c == Collective::kReduceScatter;
  });
  if (options.device == "cpu" && element == Element::kBFloat16 && reduces) {
    throw nf::UsageError(
        "--dtype bf16 --device cpu: the MPI backend cannot reduce bf16 (MPI has no 16-bit float "
        "type), so all_reduce and reduce_scatter cannot run",
        "use --ops all_gather,sendrecv for bf16 on CPU, --dtype fp32, or --device cuda");
  }
}

void print_header(const CollectiveTarget& target, const Options& options, int ranks, bool skipped_sendrecv) {
  std::printf("bench-comm: %d ranks, %s, median over %d iterations (after %d warm-up) of the slowest rank\n%s\n", ranks,
              options.dtype.c_str(), options.iterations, options.warmup, target.describe().c_str());
  if (skipped_sendrecv) std::printf("sendrecv: skipped, one rank has no peer to send to\n");
  std::printf(
      "size: bytes of the full buffer (all_reduce operand, reduce_scatter input, all_gather output, the message "
      "each rank sends in sendrecv), as in nccl-tests; count: its elements\nalgbw = size / time; busbw = algbw x "
      "2(n-1)/n for all_reduce, x (n-1)/n for reduce_scatter and all_gather, x 1 for sendrecv (rank r sends to "
      "r+1 and receives from r-1); nf/X: nf's time over X's\n\n");
  const std::vector<std::string> sides = target.sides();
  std::string columns = "| op | size B | count |", align = "|---|---:|---:|";
  for (const std::string& side : sides) {
    columns += " " + side + " us | " + side + " algbw GB/s | " + side + " busbw GB/s |";
    align += "---:|---:|---:|";
  }
  for (size_t side = 1; side < sides.size(); ++side) {
    columns += " nf/" + sides[side] + " |";
    align += "---:|";
  }
  std::printf("%s\n%s\n", columns.c_str(), align.c_str());
}

void print_row(const Row& row, int ranks) {
  std::printf("| %s | %lld | %lld |", nf::bench::name_of(row.collective), static_cast<long long>(row.bytes),
              static_cast<long long>(row.count));
  for (size_t side = 0; side < row.seconds.size(); ++side) {
    const Bandwidth b = bandwidth(row, side, ranks);
    std::printf(" %.1f | %.3f | %.3f |", row.seconds[side] * 1e6, b.algbw, b.busbw);
  }
  for (size_t side = 1; side < row.seconds.size(); ++side) std::printf(" %.2f |", row.seconds[0] / row.seconds[side]);
  std::printf("\n");
  std::fflush(stdout);  // rows appear as they are measured: the large sizes take a while
}

// The row as one line of --jsonl: the table's figures unrounded, with what a reader of the file
// alone needs to compare runs (ranks, dtype, device, library, iterations).
void append_row(std::ofstream& jsonl, const Row& row, const CollectiveTarget& target, const Options& options,
                int ranks) {
  nlohmann::ordered_json sides = nlohmann::ordered_json::object();
  const std::vector<std::string> names = target.sides();
  for (size_t side = 0; side < names.size(); ++side) {
    const Bandwidth b = bandwidth(row, side, ranks);
    sides[names[side]] = {{"us", row.seconds[side] * 1e6}, {"algbw_gbps", b.algbw}, {"busbw_gbps", b.busbw}};
  }
  const nlohmann::ordered_json record = {{"op", nf::bench::name_of(row.collective)},
                                         {"bytes", row.bytes},
                                         {"count", row.count},
                                         {"ranks", ranks},
                                         {"dtype", options.dtype},
                                         {"device", options.device},
                                         {"library", target.library()},
                                         {"iterations", options.iterations},
                                         {"sides", sides}};
  jsonl << record.dump() << '\n' << std::flush;  // a row per line as it is measured, like the table
  if (!jsonl) throw nf::IoError("--jsonl: cannot write to '" + options.jsonl + "'", "check the disk and the path");
}

// --jsonl's file, opened for appending (a suite collects several runs in one file); closed when
// no file was asked for.
std::ofstream open_jsonl(const Options& options) {
  std::ofstream jsonl;
  if (options.jsonl.empty()) return jsonl;
  jsonl.open(options.jsonl, std::ios::app);
  if (!jsonl) {
    throw nf::IoError("--jsonl: cannot open '" + options.jsonl + "' for appending",
                      "give a file in a directory that exists and that this user may write");
  }
  return jsonl;
}

int run(const nf::dist::JobContext& job) {
  Options options;
  CLI::App app("nf Communicator collectives against the raw library calls", "bench-comm");
  app.add_option("--min-bytes", options.min_bytes, "smallest message (full buffer), e.g. 1K")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--max-bytes", options.max_bytes, "largest message (full buffer), e.g. 256M")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--factor", options.factor, "each size is the previous one times this")->check(CLI::Range(2, 1024));
  app.add_option("--iterations", options.iterations, "timed runs per size and side (median reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", options.warmup, "untimed runs per size and side")->check(CLI::NonNegativeNumber);
  app.add_option("--ops", options.ops, "operations to run (default: all)")
      ->delimiter(',')
      ->check(CLI::IsMember(op_names()));
  app.add_option("--dtype", options.dtype, "element type")->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_option("--device", options.device, "cpu: MPI backend; cuda: NCCL backend")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--jsonl", options.jsonl, "also append every row to this file as one JSON object (rank 0)");
  bool parsed = false;  // false after --help or a usage error, which run_cli has reported
  app.callback([&] { parsed = true; });
  if (const int code = nf::run_cli(app, job.args); !parsed) return code;
  const Element element = options.dtype == "bf16" ? Element::kBFloat16 : Element::kFloat32;
  std::vector<Collective> ops = parse_ops(options.ops);
  // sendrecv needs a peer: on one rank it is left out (nf's NCCL backend cannot send to its own rank).
  const auto sendrecv = std::find(ops.begin(), ops.end(), Collective::kSendRecv);
  const bool skipped_sendrecv = job.world_size == 1 && sendrecv != ops.end();
  if (skipped_sendrecv) ops.erase(sendrecv);
  check(options, element, ops);
  torch::set_num_threads(1);
  const int64_t element_bytes = nf::bench::bytes_of(element);
  // Counts are whole elements and a multiple of the rank count, so every rank's chunk is equal.
  const auto count_of = [&](uint64_t bytes) {
    return static_cast<int64_t>(bytes) / element_bytes / job.world_size * job.world_size;
  };
  std::ofstream jsonl = job.rank == 0 ? open_jsonl(options) : std::ofstream();  // before the long part
  std::unique_ptr<CollectiveTarget> target = make_target(options, element, count_of(options.max_bytes), job);
  if (job.rank == 0) print_header(*target, options, job.world_size, skipped_sendrecv);
  for (Collective collective : ops) {
    for (uint64_t bytes = options.min_bytes; bytes <= options.max_bytes; bytes *= options.factor) {
      const int64_t count = count_of(bytes);
      if (count > 0) {  // else smaller than one element per rank
        target->select_count(count);
        const Row row{collective, count * element_bytes, count, measure(*target, collective, options)};
        if (job.rank == 0) {
          print_row(row, job.world_size);
          if (jsonl.is_open()) append_row(jsonl, row, *target, options, job.world_size);
        }
      }
      if (bytes > options.max_bytes / options.factor) break;  // the next size would pass the largest
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return nf::dist::run_job(argc, argv, run); }
