// One micro-batch of a NeuralFlow stage (paragraph_terms.h).
#include "paragraph_terms.h"

#include <torch/torch.h>

#include <algorithm>
#include <optional>

namespace nf::train {
namespace {

// Σ −log p of each row's counted tokens (positions below lengths [N]) of tokens [N, L], given the
// logits of those positions only ([Σ lengths, vocab], decode's): [N].
at::Tensor token_losses(const at::Tensor& logits, const at::Tensor& tokens, const at::Tensor& lengths) {
  const at::Tensor counted = torch::arange(tokens.size(1), lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
  const at::Tensor losses =
      torch::nn::functional::cross_entropy(logits.to(torch::kFloat), tokens.index({counted}),
                                           torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  const at::Tensor row =
      torch::arange(tokens.size(0), lengths.options()).unsqueeze(1).expand_as(counted).index({counted});
  return torch::zeros({tokens.size(0)}, losses.options()).index_add(0, row, losses);
}

}  // namespace

ParagraphCounts count_paragraphs(const at::Tensor& lengths) {
  const at::Tensor host = lengths.cpu();
  const at::Tensor present = (host > 0).sum(1);
  const at::Tensor last = (present - 1).clamp_min(0);
  const at::Tensor next_lengths = host.gather(1, last.unsqueeze(1)).squeeze(1) * (present >= 2);
  return {host.sum().item<double>(), present.sum().item<double>(), (present - 1).clamp_min(0).sum().item<double>(),
          next_lengths.sum().item<double>()};
}

ParagraphSums paragraph_sums(model::ParagraphModelImpl& model, const ParagraphParts& parts, const at::Tensor& tokens,
                             const at::Tensor& lengths, const at::Tensor& emotions) {
  // Positions past the micro-batch's longest paragraph are padding everywhere: cut them (the
  // blocks are causal, so no kept position reads them).
  const int64_t rows = tokens.size(0), slots = tokens.size(1),
                width = std::max<int64_t>(lengths.max().item<int64_t>(), 1);
  const at::Tensor used = tokens.narrow(2, 0, width);
  const int64_t latent = model.config().d_latent, codes = model.config().codebook_size;
  const at::Tensor flat_lengths = lengths.reshape(-1);
  const at::Tensor present = (flat_lengths > 0).nonzero().squeeze(1);
  const at::Tensor paragraph_tokens = used.reshape({rows * slots, width}).index_select(0, present);
  const at::Tensor paragraph_lengths = flat_lengths.index_select(0, present);
  at::Tensor latents;
  {
    std::optional<torch::NoGradGuard> frozen;  // the encoder trains only where paragraphs are reconstructed
    if (!parts.reconstruct) frozen.emplace();
    latents = model.encode(paragraph_tokens, paragraph_lengths);
  }
  const model::Quantized quantized = model.quantize(latents);
  const at::Tensor counted = torch::ones({present.size(0)}, latents.options());
  ParagraphSums out;
  if (parts.reconstruct) {
    const model::VqLossSums vq = model::vq_loss_sums(latents, quantized.quantized, counted);
    out.commit = vq.commit;
    out.codebook = vq.codebook;
    out.code_counts = model::code_counts(quantized.indices, counted, codes);
    out.code_sums = model::code_sums(latents, quantized.indices, counted, codes);
    out.latents = latents.detach();
    const at::Tensor counted_positions =
        torch::arange(width, paragraph_lengths.options()).unsqueeze(0) < paragraph_lengths.unsqueeze(1);
    out.bow = -(model.bag_of_words(latents).gather(1, paragraph_tokens) * counted_positions).sum();
  }
  // The paragraphs' codes back in their slots: [rows, slots, d_latent], zero where a slot is unused.
  const auto in_slots = [&](const at::Tensor& values) {
    return torch::zeros({rows * slots, latent}, values.options())
        .index_copy(0, present, values)
        .view({rows, slots, latent});
  };
  const at::Tensor per_row = (lengths > 0).sum(1);  // paragraphs of each record
  std::vector<at::Tensor> decode_latents, decode_tokens, decode_lengths, decode_emotions;
  if (parts.reconstruct) {
    decode_latents.push_back(quantized.straight_through);
    decode_tokens.push_back(paragraph_tokens);
    decode_lengths.push_back(paragraph_lengths);
    decode_emotions.push_back(torch::full({present.size(0)}, -1, emotions.options()));
  }
  if (parts.predict || parts.decode_next) {
    // The brain reads the codes (straight through to the encoder when it trains).
    const model::BrainOutput brain =
        model.think(in_slots(parts.reconstruct ? quantized.straight_through : quantized.quantized.detach()));
    const at::Tensor targets = in_slots(quantized.quantized.detach());
    const at::Tensor next_targets =
        torch::cat({targets.narrow(1, 1, slots - 1), torch::zeros_like(targets.narrow(1, 0, 1))}, 1);
    const at::Tensor predicted =
        (torch::arange(slots, per_row.options()).unsqueeze(0) < (per_row - 1).unsqueeze(1)).to(latents.scalar_type());
    if (parts.predict) {
      out.prediction = ((brain.prediction - next_targets).pow(2).sum(-1) * predicted).sum();
      out.ponder = (brain.ponder_cost * predicted).sum();
      out.steps = (brain.steps.to(latents.scalar_type()) * predicted).sum().item<double>();
      out.copy_last = ((targets - next_targets).pow(2).sum(-1) * predicted).sum().item<double>();
      out.target_squares = (next_targets.pow(2).sum(-1) * predicted).sum().item<double>();
      out.target_sum = (next_targets * predicted.unsqueeze(-1)).sum(at::IntArrayRef{0, 1}).to(torch::kDouble);
    }
    if (parts.decode_next) {
      // Each record of two paragraphs or more: `next` from the prediction made at the one before it.
      const at::Tensor records = (per_row >= 2).nonzero().squeeze(1);
      const at::Tensor last = per_row.index_select(0, records) - 1;
      const at::Tensor position = (last - 1).view({-1, 1, 1}).expand({-1, 1, latent});
      decode_latents.push_back(brain.prediction.index_select(0, records).gather(1, position).squeeze(1));
      const at::Tensor slot = last.view({-1, 1, 1}).expand({-1, 1, width});
      decode_tokens.push_back(used.index_select(0, records).gather(1, slot).squeeze(1));
      decode_lengths.push_back(lengths.index_select(0, records).gather(1, last.unsqueeze(1)).squeeze(1));
      decode_emotions.push_back(emotions.index_select(0, records));
    }
  }
  if (!decode_latents.empty()) {
    // One decoder pass over both kinds of rows (ZeRO 3 gathers each block once).
    const at::Tensor all_tokens = torch::cat(decode_tokens), all_lengths = torch::cat(decode_lengths);
    const at::Tensor logits =
        model.decode(torch::cat(decode_latents), torch::cat(decode_emotions), all_tokens, all_lengths);
    const at::Tensor losses = token_losses(logits, all_tokens, all_lengths);
    const int64_t reconstructed = parts.reconstruct ? present.size(0) : 0;
    if (parts.reconstruct) out.recon = losses.narrow(0, 0, reconstructed).sum();
    if (parts.decode_next) out.next = losses.narrow(0, reconstructed, losses.size(0) - reconstructed).sum();
  }
  return out;
}

std::vector<std::string> frozen_modules(const ParagraphParts& parts) {
  const bool decoder = parts.reconstruct || parts.decode_next, brain = parts.predict || parts.decode_next;
  std::vector<std::string> frozen;
  const std::pair<const char*, bool> modules[] = {{"encoder.", parts.reconstruct},
                                                  {"quantizer.", parts.reconstruct},
                                                  {"brain.", brain},
                                                  {"emotion.", parts.decode_next},
                                                  {"decoder.", decoder}};
  for (const auto& [module, trained] : modules) {
    if (!trained) frozen.emplace_back(module);
  }
  return frozen;
}

ParagraphWeights paragraph_weights(const TrainConfig& config) {
  const VqvaeConfig& vq = config.training.vqvae;
  return {vq.beta_commit, vq.ema ? 0.0 : vq.gamma_codebook, vq.bag_of_words,
          config.training.dynamics.ponder_cost_weight, config.model.d_latent};
}

at::Tensor paragraph_loss(const ParagraphSums& sums, const ParagraphCounts& counts, const ParagraphWeights& weights) {
  const auto mean = [](double count) { return 1.0 / std::max(count, 1.0); };
  const double per_dim = mean(counts.paragraphs) / static_cast<double>(weights.d_latent);
  at::Tensor loss;
  const auto add = [&](const at::Tensor& term, double factor) {
    if (!term.defined() || factor == 0.0) return;
    loss = loss.defined() ? loss + term * factor : term * factor;
  };
  add(sums.recon, mean(counts.tokens));
  add(sums.bow, weights.bag_of_words * mean(counts.tokens));
  add(sums.commit, weights.beta_commit * per_dim);
  add(sums.codebook, weights.gamma_codebook * per_dim);
  add(sums.prediction, mean(counts.predictions) / static_cast<double>(weights.d_latent));
  add(sums.ponder, weights.ponder * mean(counts.predictions));
  add(sums.next, mean(counts.next_tokens));
  return loss;
}

}  // namespace nf::train
