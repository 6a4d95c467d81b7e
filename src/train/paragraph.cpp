// The NeuralFlow model's four stages as one objective (objective_spec.h's ParagraphParts say which
// terms each sums; docs/neuralflow.md): vqvae, dynamics, emotion and finetune. Each rank runs its
// rows in micro-batches, every term divided by its global count, so the summed gradients are the
// global batch's; the figures are reduced over dp; stages that reconstruct then keep the codebook.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "objective.h"
#include "paragraph_codebook.h"
#include "paragraph_terms.h"

namespace nf::train {
namespace {

// The figures of a step or an evaluation, summed over micro-batches, then over dp.
struct ParagraphTotals {
  double recon = 0, bow = 0, commit = 0, codebook = 0, prediction = 0, ponder = 0, next = 0;
  double steps = 0, copy_last = 0, target_squares = 0;
  at::Tensor target_sum;  // [d_latent] fp64
  at::Tensor code_counts, code_sums, latents;

  void add(const ParagraphSums& sums) {
    const auto value = [](const at::Tensor& term) { return term.defined() ? term.item<double>() : 0.0; };
    recon += value(sums.recon);
    bow += value(sums.bow);
    commit += value(sums.commit);
    codebook += value(sums.codebook);
    prediction += value(sums.prediction);
    ponder += value(sums.ponder);
    next += value(sums.next);
    steps += sums.steps;
    copy_last += sums.copy_last;
    target_squares += sums.target_squares;
    const auto accumulate = [](at::Tensor& total, const at::Tensor& part) {
      if (part.defined()) total = total.defined() ? total + part : part.clone();
    };
    accumulate(target_sum, sums.target_sum);
    accumulate(code_counts, sums.code_counts);
    accumulate(code_sums, sums.code_sums);
    const auto append = [](at::Tensor& total, const at::Tensor& part) {
      if (part.defined()) total = total.defined() ? torch::cat({total, part}) : part;
    };
    append(latents, sums.latents);
  }
};

class ParagraphObjective : public Objective {
 public:
  ParagraphObjective(const ObjectiveSpec& spec, const ObjectiveContext& context)
      : model_(context.paragraph),
        parts_(spec.paragraph),
        mesh_(context.mesh),
        vq_(context.config.training.vqvae),
        weights_(paragraph_weights(context.config)),
        micro_batch_size_(context.config.training.micro_batch_size),
        bf16_autocast_(context.bf16_autocast),
        write_parameters_(context.write_parameters) {}

  ObjectiveTotals forward_backward(const DeviceBatch& batch, const BackwardHooks& hooks) override {
    const ParagraphCounts counts = global_counts(batch);
    const int64_t rows = batch.inputs.size(0);
    ParagraphTotals totals;
    {
      const Bf16Autocast autocast(bf16_autocast_);
      for (int64_t begin = 0; begin < rows; begin += micro_batch_size_) {
        const int64_t length = std::min(micro_batch_size_, rows - begin);
        const ParagraphSums sums = micro_batch(batch, begin, length);
        if (begin + length >= rows) hooks.before_last_backward();
        const at::Tensor loss = paragraph_loss(sums, counts, weights_);
        if (loss.defined() && loss.requires_grad()) loss.backward();
        totals.add(sums);
      }
    }
    hooks.after_backward();
    NamedValues codebook;
    if (parts_.reconstruct) {
      const CodebookUpkeep upkeep =
          codebook_upkeep(*model_, vq_, totals.code_counts, totals.code_sums, totals.latents, mesh_.dp());
      write_parameters_(upkeep.writes);
      codebook = {{"latent_spread", upkeep.latent_spread},
                  {"perplexity", upkeep.perplexity},
                  {"usage_perplexity", upkeep.usage_perplexity},
                  {"dead_codes", upkeep.dead_codes},
                  {"restarted_codes", upkeep.restarted}};
    }
    return report(totals, counts, codebook);
  }

  ObjectiveTotals evaluate(const std::function<DeviceBatch(uint64_t)>& batch, uint64_t batches) override {
    torch::NoGradGuard no_grad;
    ParagraphCounts counts;
    ParagraphTotals totals;
    for (uint64_t i = 0; i < batches; ++i) {
      const DeviceBatch one = batch(i);
      const ParagraphCounts part = global_counts(one);
      counts.tokens += part.tokens;
      counts.paragraphs += part.paragraphs;
      counts.predictions += part.predictions;
      counts.next_tokens += part.next_tokens;
      const Bf16Autocast autocast(bf16_autocast_);
      for (int64_t begin = 0; begin < one.inputs.size(0); begin += micro_batch_size_) {
        totals.add(micro_batch(one, begin, std::min(micro_batch_size_, one.inputs.size(0) - begin)));
      }
    }
    NamedValues codebook;
    if (parts_.reconstruct) {
      at::Tensor usage = totals.code_counts;
      if (mesh_.dp().size() > 1) mesh_.dp().all_reduce(usage, dist::ReduceOp::kSum)->wait();
      codebook = {{"perplexity", model::perplexity(usage)}};
    }
    return report(totals, counts, codebook);
  }

 private:
  ParagraphCounts global_counts(const DeviceBatch& batch) const {
    const ParagraphCounts local = count_paragraphs(batch.paragraph_lengths);
    at::Tensor values =
        torch::tensor({local.tokens, local.paragraphs, local.predictions, local.next_tokens}, torch::kFloat64)
            .to(batch.inputs.device());
    if (mesh_.dp().size() > 1) mesh_.dp().all_reduce(values, dist::ReduceOp::kSum)->wait();
    const at::Tensor host = values.cpu();
    return {host[0].item<double>(), host[1].item<double>(), host[2].item<double>(), host[3].item<double>()};
  }

  ParagraphSums micro_batch(const DeviceBatch& batch, int64_t begin, int64_t length) {
    const model::ModelConfig& c = model_->config();
    const at::Tensor tokens =
        batch.inputs.narrow(0, begin, length).view({length, c.max_paragraphs, c.max_paragraph_len});
    return paragraph_sums(*model_, parts_, tokens, batch.paragraph_lengths.narrow(0, begin, length),
                          batch.emotions.narrow(0, begin, length));
  }

  // The loss and its terms from the global batch's sums (reduced over dp here).
  ObjectiveTotals report(const ParagraphTotals& totals, const ParagraphCounts& counts, const NamedValues& codebook) {
    const int64_t latent = model_->config().d_latent;
    at::Tensor sums = torch::tensor({totals.recon, totals.commit, totals.codebook, totals.prediction, totals.ponder,
                                     totals.next, totals.steps, totals.copy_last, totals.target_squares, totals.bow},
                                    torch::kFloat64);
    at::Tensor target = totals.target_sum.defined() ? totals.target_sum.cpu() : torch::zeros({latent}, torch::kFloat64);
    at::Tensor all = torch::cat({sums, target}).to(mesh_.dp().size() > 1 ? model_->codebook().device() : at::kCPU);
    if (mesh_.dp().size() > 1) mesh_.dp().all_reduce(all, dist::ReduceOp::kSum)->wait();
    all = all.cpu();
    const auto at = [&](int64_t i) { return all[i].item<double>(); };
    ParagraphSums global;
    const auto scalar = [](double value) { return torch::tensor(value, torch::kFloat64); };
    if (parts_.reconstruct) {
      global.recon = scalar(at(0));
      global.commit = scalar(at(1));
      global.codebook = scalar(at(2));
      global.bow = scalar(at(9));
    }
    if (parts_.predict) {
      global.prediction = scalar(at(3));
      global.ponder = scalar(at(4));
    }
    if (parts_.decode_next) global.next = scalar(at(5));
    ObjectiveTotals out;
    out.loss = paragraph_loss(global, counts, weights_).item<double>();
    const auto per = [](double sum, double count) { return sum / std::max(count, 1.0); };
    const double dims = static_cast<double>(latent);
    if (parts_.reconstruct) {
      out.terms.push_back({"recon_loss", per(at(0), counts.tokens)});
      out.terms.push_back({"bow_loss", per(at(9), counts.tokens)});
      out.terms.push_back({"commit_loss", per(at(1), counts.paragraphs * dims)});
      out.terms.push_back({"codebook_loss", per(at(2), counts.paragraphs * dims)});
      out.terms.insert(out.terms.end(), codebook.begin(), codebook.end());
    }
    if (parts_.predict) {
      const double predictions = counts.predictions;
      const at::Tensor mean = all.narrow(0, 10, latent);
      const double mean_baseline =
          at(8) - (mean * mean).sum().item<double>() / std::max(predictions, 1.0);  // Σ‖t − t̄‖²
      out.terms.push_back({"prediction_loss", per(at(3), predictions * dims)});
      out.terms.push_back({"copy_last_loss", per(at(7), predictions * dims)});
      out.terms.push_back({"mean_latent_loss", per(mean_baseline, predictions * dims)});
      out.terms.push_back({"ponder_steps", per(at(6), predictions)});
      out.terms.push_back({"ponder_cost", per(at(4), predictions)});
    }
    if (parts_.decode_next) out.terms.push_back({"next_loss", per(at(5), counts.next_tokens)});
    return out;
  }

  model::ParagraphModel model_;
  ParagraphParts parts_;
  const dist::Mesh& mesh_;
  VqvaeConfig vq_;
  ParagraphWeights weights_;
  int64_t micro_batch_size_;
  bool bf16_autocast_;
  ParameterWriter write_parameters_;
};

}  // namespace

std::unique_ptr<Objective> make_paragraph_objective(const ObjectiveSpec& spec, const ObjectiveContext& context) {
  return std::make_unique<ParagraphObjective>(spec, context);
}

}  // namespace nf::train
