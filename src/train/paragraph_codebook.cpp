// The codebook's EMA and dead-code restarts (paragraph_codebook.h).
#include "paragraph_codebook.h"

#include <torch/torch.h>

#include <algorithm>

#include "nf/model/vector_quantizer.h"

namespace nf::train {
namespace {

// Sonnet's Laplace smoothing constant for the EMA counts.
constexpr double kEmaEpsilon = 1e-5;

// The `wanted` latents of the highest errors over every dp rank's candidates, highest first (ties:
// lower rank, then lower row), as [k, d_latent] with k <= wanted, and their errors.
std::pair<at::Tensor, at::Tensor> worst_latents(const at::Tensor& latents, const at::Tensor& errors, int64_t wanted,
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
  const at::Tensor host = all_errors.cpu();
  std::vector<int64_t> order(static_cast<size_t>(host.size(0)));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  const auto value = host.accessor<float, 1>();
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return value[a] > value[b]; });
  order.resize(static_cast<size_t>(wanted));
  while (!order.empty() && value[order.back()] <= 0) order.pop_back();
  const at::Tensor chosen = torch::tensor(order, torch::kLong).to(all_latents.device());
  return {all_latents.index_select(0, chosen), all_errors.index_select(0, chosen)};
}

}  // namespace

CodebookUpkeep codebook_upkeep(model::ParagraphModelImpl& model, const VqvaeConfig& config, at::Tensor counts,
                               at::Tensor sums, const at::Tensor& latents, const at::Tensor& errors,
                               dist::Communicator& dp) {
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
  const at::Tensor dead = (count < config.dead_code_threshold).nonzero().squeeze(1);
  out.dead_codes = static_cast<double>(dead.size(0));
  if (config.restart_dead_codes && dead.size(0) > 0) {
    const auto [fresh, fresh_errors] = worst_latents(latents, errors, dead.size(0), dp);
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
