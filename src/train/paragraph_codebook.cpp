// The codebook's EMA and dead-code restarts (paragraph_codebook.h).
#include "paragraph_codebook.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "nf/model/vector_quantizer.h"

namespace nf::train {
namespace {

// Sonnet's Laplace smoothing constant for the EMA counts.
constexpr double kEmaEpsilon = 1e-5;

// A latent within this relative distance of a code that stays, or of a latent already chosen, is
// not a restart: √1e-6 = 0.1% of its norm, far above rounding, far below any real distance.
constexpr double kCoincident = 1e-6;

// Each of `latents` [n, d]: its squared distance to the nearest of the codes that stay `live` [L]
// of `codebook` [K, d], compared as the model compares them (on the sphere with cosine_codebook);
// with none, its squared norm.
at::Tensor unserved(const model::ParagraphModelImpl& model, const at::Tensor& codebook, const at::Tensor& live,
                    const at::Tensor& latents) {
  if (live.size(0) == 0) return latents.pow(2).sum(1);
  const at::Tensor codes = codebook.index_select(0, live).to(latents.scalar_type());
  const model::Quantized nearest =
      model::quantize(latents, model.config().cosine_codebook ? model::on_sphere(codes) : codes);
  return (latents - nearest.quantized).pow(2).sum(1);
}

// Up to `wanted` latents for the dead codes, as [k, d_latent], k <= wanted: the global batch's in
// decreasing error over every dp rank's candidates (ties: lower rank, then lower row), skipping one
// served already (error within kCoincident of its squared norm) or coinciding with one chosen.
at::Tensor restart_latents(const at::Tensor& latents, const at::Tensor& errors, int64_t wanted,
                           dist::Communicator& dp) {
  const int64_t local = std::min<int64_t>(wanted, errors.size(0));
  // Each rank's own best candidates, padded to `wanted` with error −1 (never chosen).
  at::Tensor mine_errors = torch::full({wanted}, -1.0, errors.options().dtype(torch::kFloat));
  at::Tensor mine_latents = torch::zeros({wanted, latents.size(1)}, latents.options().dtype(torch::kFloat));
  if (local > 0) {
    const at::Tensor order = std::get<1>(errors.to(torch::kFloat).topk(local));
    mine_errors.narrow(0, 0, local).copy_(errors.index_select(0, order));
    mine_latents.narrow(0, 0, local).copy_(latents.index_select(0, order));
  }
  at::Tensor all_errors = mine_errors, all_latents = mine_latents;
  if (dp.size() > 1) {
    all_errors = torch::empty({wanted * dp.size()}, mine_errors.options());
    dp.all_gather(mine_errors, all_errors)->wait();
    at::Tensor gathered = torch::empty({wanted * dp.size() * latents.size(1)}, mine_latents.options());
    dp.all_gather(mine_latents.reshape(-1), gathered)->wait();
    all_latents = gathered.view({wanted * dp.size(), latents.size(1)});
  }
  const at::Tensor host = all_errors.cpu(), host_latents = all_latents.cpu().to(torch::kDouble);
  std::vector<int64_t> order(static_cast<size_t>(host.size(0)));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  const auto value = host.accessor<float, 1>();
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return value[a] > value[b]; });
  order.resize(static_cast<size_t>(wanted));
  // Plain loops over the host copy: up to codebook_size candidates, each step.
  const auto rows = host_latents.accessor<double, 2>();
  const auto squared_norm = [&](int64_t a) {
    double total = 0;
    for (int64_t j = 0; j < rows.size(1); ++j) total += rows[a][j] * rows[a][j];
    return total;
  };
  const auto squared_distance = [&](int64_t a, int64_t b) {
    double total = 0;
    for (int64_t j = 0; j < rows.size(1); ++j) total += (rows[a][j] - rows[b][j]) * (rows[a][j] - rows[b][j]);
    return total;
  };
  std::vector<int64_t> chosen;
  for (const int64_t candidate : order) {
    if (value[candidate] < 0) continue;  // a pad
    const double scale = kCoincident * squared_norm(candidate);
    if (value[candidate] <= scale) continue;  // a code that stays serves it
    const auto coincides = [&](int64_t other) { return squared_distance(candidate, other) <= scale; };
    if (std::none_of(chosen.begin(), chosen.end(), coincides)) chosen.push_back(candidate);
  }
  return all_latents.index_select(0, torch::tensor(chosen, torch::kLong).to(all_latents.device()));
}

}  // namespace

CodebookUpkeep codebook_upkeep(model::ParagraphModelImpl& model, const VqvaeConfig& config, at::Tensor counts,
                               at::Tensor sums, const at::Tensor& latents, dist::Communicator& dp) {
  torch::NoGradGuard no_grad;
  if (dp.size() > 1) {
    dp.all_reduce(counts, dist::ReduceOp::kSum)->wait();
    dp.all_reduce(sums, dist::ReduceOp::kSum)->wait();
  }
  CodebookUpkeep out;
  out.perplexity = model::perplexity(counts);
  const double paragraphs = std::max(counts.sum().item<double>(), 1.0);
  at::Tensor spread = (latents - sums.sum(0) / paragraphs).pow(2).sum().to(torch::kDouble).reshape({1});
  if (dp.size() > 1) dp.all_reduce(spread, dist::ReduceOp::kSum)->wait();
  out.latent_spread = spread.item<double>() / paragraphs / static_cast<double>(latents.size(1));
  const model::EmaCodebook ema =
      model::ema_update(model.ema_count(), model.ema_sum(), counts, sums, config.ema_decay, kEmaEpsilon);
  at::Tensor codebook = config.ema ? ema.codebook : model.codebook().detach().clone();
  at::Tensor count = ema.count, sum = ema.sum;
  out.usage_perplexity = model::perplexity(count);
  const at::Tensor alive = count >= config.dead_code_threshold;
  const at::Tensor dead = alive.logical_not().nonzero().squeeze(1);
  out.dead_codes = static_cast<double>(dead.size(0));
  if (config.restart_dead_codes && dead.size(0) > 0) {
    const at::Tensor live = alive.nonzero().squeeze(1);
    const at::Tensor fresh = restart_latents(latents, unserved(model, codebook, live, latents), dead.size(0), dp);
    const at::Tensor restarted = dead.narrow(0, 0, fresh.size(0));
    codebook.index_copy_(0, restarted, fresh.to(codebook.scalar_type()));
    sum.index_copy_(0, restarted, fresh.to(sum.scalar_type()));
    // At the threshold (as Jukebox's restarts): a code no latent chooses next step is dead again,
    // and moves on to another latent.
    count.index_fill_(0, restarted, config.dead_code_threshold);
    out.restarted = static_cast<double>(fresh.size(0));
  }
  out.writes = {{"quantizer.codebook", codebook}, {"quantizer.ema_count", count}, {"quantizer.ema_sum", sum}};
  return out;
}

}  // namespace nf::train
