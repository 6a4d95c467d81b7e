// Paragraph-by-paragraph continuation (paragraph_generation.h).
#include "nf/model/paragraph_generation.h"

#include <torch/torch.h>

#include <algorithm>

#include "nf/core/error.h"

namespace nf::model {

Continuation continue_paragraphs(ParagraphModelImpl& model, const std::vector<std::vector<int64_t>>& context,
                                 const ContinuationOptions& options, std::optional<at::Generator> generator) {
  torch::NoGradGuard no_grad;
  const ModelConfig& config = model.config();
  NF_CHECK(!context.empty(), UsageError, "continue_paragraphs: no paragraph to continue");
  NF_CHECK(options.emotion < static_cast<int64_t>(config.emotions.size()), UsageError, "emotion index ",
           options.emotion, " is not one of the model's ", config.emotions.size(), " labels");
  const torch::Device device = model.codebook().device();
  const int64_t width = config.max_paragraph_len;
  std::vector<std::vector<int64_t>> paragraphs = context;
  Continuation out;
  for (int64_t step = 0; step < options.paragraphs; ++step) {
    // The paragraphs the brain reads, cut and padded as the loader's rows.
    const size_t first = paragraphs.size() > static_cast<size_t>(config.max_paragraphs - 1)
                             ? paragraphs.size() - static_cast<size_t>(config.max_paragraphs - 1)
                             : 0;
    const auto count = static_cast<int64_t>(paragraphs.size() - first);
    torch::Tensor tokens = torch::zeros({count, width}, torch::kLong);
    torch::Tensor lengths = torch::zeros({count}, torch::kLong);
    for (int64_t p = 0; p < count; ++p) {
      const std::vector<int64_t>& text = paragraphs[first + static_cast<size_t>(p)];
      const auto kept = std::min<int64_t>(static_cast<int64_t>(text.size()), width - 1);
      for (int64_t j = 0; j < kept; ++j) tokens[p][j] = text[static_cast<size_t>(j)];
      tokens[p][kept] = options.eos_id;
      lengths[p] = kept + 1;
    }
    tokens = tokens.to(device);
    lengths = lengths.to(device);
    const Quantized codes = model.quantize(model.encode(tokens, lengths));
    if (step == 0) {
      const torch::Tensor host = codes.indices.cpu();
      // The codes of the given paragraphs (those the brain reads, at the first step).
      out.codes.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
    }
    const BrainOutput brain = model.think(codes.quantized.unsqueeze(0));
    const torch::Tensor next = brain.prediction.select(1, count - 1);  // [1, d_latent]
    const torch::Tensor emotion =
        torch::full({1}, options.emotion, torch::TensorOptions().dtype(torch::kLong).device(device));
    std::vector<std::vector<int64_t>> made =
        model.generate(next, emotion, options.eos_id, options.temperature, generator);
    out.paragraphs.push_back(made[0]);
    paragraphs.push_back(std::move(made[0]));
  }
  return out;
}

}  // namespace nf::model
