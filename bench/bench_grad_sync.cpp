// bench-grad-sync: the cost of synchronising a model's gradients over the dp ranks, bucketed
// (GradSync, all_reduce or ZeRO-2 reduce_scatter per bucket) against one all_reduce per parameter.
// The layout is the parameter list of a Llama-style CausalLM (~25M parameters by default).
//   mpirun -n 2 build/bench/bench-grad-sync [--layers 5] [--iterations 10] [--bucket-mb 1,5,25,100]
#include <mpi.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "nf/core/cli.h"
#include "nf/dist/job.h"
#include "nf/dist/mpi_communicator.h"
#include "nf/model/transformer.h"
#include "nf/parallel/dp/grad_sync.h"

namespace {

using Clock = std::chrono::steady_clock;

// Median wall time of `iterations` runs of `body` (after one warm-up), agreed over the ranks: the
// slowest rank's time is what a step waits for.
double median_seconds(nf::dist::Communicator& comm, int iterations, const std::function<void()>& body) {
  body();
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    comm.barrier();
    const auto start = Clock::now();
    body();
    torch::Tensor elapsed = torch::tensor({std::chrono::duration<double>(Clock::now() - start).count()});
    comm.all_reduce(elapsed, nf::dist::ReduceOp::kMax)->wait();
    times.push_back(elapsed.item<double>());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int run(const nf::dist::JobContext& job) {
  int layers = 5, iterations = 10;
  std::vector<double> bucket_mbs = {1, 5, 25, 100};
  CLI::App app("gradient synchronisation benchmark", "bench-grad-sync");
  app.add_option("--layers", layers, "decoder layers of the d_model 512, vocab 8192 layout (5 = ~25M parameters)");
  app.add_option("--iterations", iterations, "timed repetitions per row (median reported)");
  app.add_option("--bucket-mb", bucket_mbs, "bucket sizes in MiB")->delimiter(',');
  bool parsed = false;  // false after --help or a usage error, which run_cli has reported
  app.callback([&] { parsed = true; });
  if (const int code = nf::run_cli(app, job.args); !parsed) return code;
  torch::set_num_threads(1);
  nf::dist::MpiCommunicator dp(MPI_COMM_WORLD, "dp", std::chrono::minutes(5));
  nf::model::ModelConfig config;
  config.vocab_size = 8192;
  config.d_model = 512;
  config.n_layers = layers;
  config.n_heads = 8;
  nf::model::CausalLM lm(config);
  auto parameters = nf::model::named_parameters(*lm);
  int64_t numel = 0;
  std::vector<torch::Tensor> separate;  // unbucketed gradients: one tensor each
  for (const auto& [name, p] : parameters) {
    numel += p.numel();
    separate.push_back(torch::randn(p.sizes()));
  }
  const double megabytes = static_cast<double>(numel) * 4 / 1e6;
  if (dp.rank() == 0) {
    std::printf("gradient sync over dp=%d: %zu parameters, %.1fM elements (%.1f MB fp32), median of %d\n\n", dp.size(),
                parameters.size(), static_cast<double>(numel) / 1e6, megabytes, iterations);
    std::printf("| method | bucket MiB | collectives | time ms | bus GB/s |\n|---|---:|---:|---:|---:|\n");
  }
  // Ring all_reduce moves 2(n-1)/n of the data per rank, reduce_scatter (n-1)/n.
  const double ring = static_cast<double>(dp.size() - 1) / dp.size();
  const auto row = [&](const char* method, const std::string& bucket, size_t collectives, double seconds,
                       double factor) {
    if (dp.rank() != 0) return;
    std::printf("| %s | %s | %zu | %.1f | %.2f |\n", method, bucket.c_str(), collectives, seconds * 1e3,
                megabytes * factor / 1e3 / seconds);
  };
  const double per_param = median_seconds(dp, iterations, [&] {
    for (auto& grad : separate) dp.all_reduce(grad, nf::dist::ReduceOp::kSum)->wait();
  });
  row("all_reduce per parameter", "-", separate.size(), per_param, 2 * ring);
  const double per_param_async = median_seconds(dp, iterations, [&] {
    std::vector<std::unique_ptr<nf::dist::Work>> works;
    for (auto& grad : separate) works.push_back(dp.all_reduce(grad, nf::dist::ReduceOp::kSum));
    for (auto& work : works) work->wait();
  });
  row("all_reduce per parameter, all in flight", "-", separate.size(), per_param_async, 2 * ring);
  separate.clear();
  for (double bucket_mb : bucket_mbs) {
    nf::parallel::dp::FlatParameters bucketed(nf::model::named_parameters(*lm),
                                              nf::parallel::dp::bucket_numel_for(bucket_mb, 4), dp.size());
    bucketed.flat_grads().normal_();
    char label[32];
    std::snprintf(label, sizeof(label), "%g", bucket_mb);
    for (int zero_stage : {0, 2}) {
      nf::parallel::dp::GradSync sync(bucketed, dp, zero_stage, false);
      const double seconds = median_seconds(dp, iterations, [&] { sync.finish(); });
      row(zero_stage == 0 ? "bucketed all_reduce" : "bucketed reduce_scatter (ZeRO-2)", label,
          bucketed.layout().buckets().size(), seconds, zero_stage == 0 ? 2 * ring : ring);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return nf::dist::run_job(argc, argv, run); }
