// The NeuralFlow paragraph-latent model (paragraph_model.h) and its name-based initialization.
#include "nf/model/paragraph_model.h"

#include <torch/torch.h>

#include <cmath>

#include "nf/core/error.h"
#include "nf/model/act.h"
#include "nf/model/paragraph_table.h"
#include "nf/model/recurrent.h"
#include "nf/model/transformer.h"

namespace nf::model {
namespace {

using ModulePtr = std::shared_ptr<torch::nn::Module>;

// A module that only groups others (and parameters) under a name, as the table spells them.
ModulePtr group() { return std::make_shared<torch::nn::Module>(); }

torch::nn::ModuleDict blocks(const ModelConfig& config) {
  std::vector<std::pair<std::string, ModulePtr>> held;
  for (int64_t i = 0; i < config.n_layers; ++i)
    held.emplace_back(std::to_string(i), DecoderLayer(config, TensorParallel()).ptr());
  return torch::nn::ModuleDict(held);
}

torch::nn::Linear linear(int64_t in, int64_t out, bool bias = false) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// A brain layer: h + mixer(norm(h)), the mixer a GRU or a Mamba block.
class BrainLayerImpl : public torch::nn::Module {
 public:
  explicit BrainLayerImpl(const ModelConfig& config) {
    norm_ = register_module("norm", RMSNorm(config.d_model, config.norm_eps));
    if (config.brain_type == BrainType::kGru) {
      gru_ = register_module("gru", GruLayer(config.d_model, config.d_model));
    } else {
      mamba_ = register_module("mamba", MambaBlock(config));
    }
  }
  torch::Tensor forward(const torch::Tensor& hidden) {
    const torch::Tensor normed = norm_(hidden);
    return hidden + (gru_ ? gru_(normed) : mamba_(normed));
  }

 private:
  RMSNorm norm_{nullptr};
  GruLayer gru_{nullptr};
  MambaBlock mamba_{nullptr};
};
TORCH_MODULE(BrainLayer);

// The initial value of the parameters the decoder's rules (initial_value) do not cover, or nullopt.
std::optional<at::Tensor> own_initial_value(const InitOptions& options, const ModelConfig& config,
                                            const std::string& name, c10::IntArrayRef shape) {
  const auto fp32 = at::TensorOptions().dtype(at::kFloat);
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  at::Generator generator = at::detail::createCPUGenerator(parameter_seed(options.seed, name, shape));
  if (name == "quantizer.codebook") {
    // At the scale of the encoder's first latents (unit-RMS features through a d_model-wide
    // projection of init_std), so that codes start among them.
    return at::normal(0.0, options.std * std::sqrt(static_cast<double>(config.d_model)), shape, generator, fp32);
  }
  // No code has been used yet: every one starts dead, so dead-code restarts (on by default) set the
  // codebook from the first batches' latents, a data-dependent start.
  if (name == "quantizer.ema_count" || name == "quantizer.ema_sum") return at::zeros(shape, fp32);
  if (ends_with("mamba.D")) return at::ones(shape, fp32);
  if (ends_with("dt_proj.bias")) {
    // mamba-ssm: Δ = softplus(bias) starts log-uniform in [0.001, 0.1].
    const at::Tensor dt =
        at::exp(at::rand(shape, generator, fp32) * (std::log(0.1) - std::log(0.001)) + std::log(0.001));
    return dt + at::log(-at::expm1(-dt));  // softplus⁻¹
  }
  // Biases start at zero; so does the emotion embedding: until the emotion stage trains it, it
  // changes nothing.
  if (name == "emotion.weight" || name.find("bias") != std::string::npos) return at::zeros(shape, fp32);
  if (ends_with("mamba.A_log")) {  // S4D-real: A = −(1, 2, ..., N) for every channel
    return at::log(at::arange(1, shape[1] + 1, fp32)).unsqueeze(0).expand(shape).contiguous();
  }
  if (ends_with("conv1d.weight")) {  // torch's Conv1d scale, 1/√(kernel width)
    return at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(shape.back())), shape, generator, fp32);
  }
  return std::nullopt;
}

}  // namespace

ParagraphModelImpl::ParagraphModelImpl(const ModelConfig& config) : config_(config) {
  NF_CHECK(config_.neuralflow(), UsageError, "ParagraphModel needs model.arch neuralflow");
  validate(config_);
  const int64_t d = config_.d_model, latent = config_.d_latent;
  ModulePtr encoder = register_module("encoder", group());
  encoder_embed_ = encoder->register_module("embed_tokens", group())
                       ->register_parameter("weight", torch::empty({config_.vocab_size, d}));
  encoder_blocks_ = encoder->register_module("layers", blocks(config_));
  encoder_norm_ = encoder->register_module("norm", RMSNorm(d, config_.norm_eps));
  to_latent_ = encoder->register_module("to_latent", linear(d, latent));

  ModulePtr quantizer = register_module("quantizer", group());
  codebook_ = quantizer->register_parameter("codebook", torch::empty({config_.codebook_size, latent}));
  ema_count_ = quantizer->register_parameter("ema_count", torch::empty({config_.codebook_size}));
  ema_sum_ = quantizer->register_parameter("ema_sum", torch::empty({config_.codebook_size, latent}));

  ModulePtr brain = register_module("brain", group());
  brain_in_ = brain->register_module("in_proj", linear(latent, d));
  std::vector<std::pair<std::string, ModulePtr>> layers;
  for (int64_t i = 0; i < config_.num_layers; ++i) layers.emplace_back(std::to_string(i), BrainLayer(config_).ptr());
  brain_layers_ = brain->register_module("layers", torch::nn::ModuleDict(layers));
  brain_norm_ = brain->register_module("norm", RMSNorm(d, config_.norm_eps));
  ModulePtr ponder = brain->register_module("ponder", group());
  ponder_cell_ = ponder->register_module("cell", linear(d, d, true));
  ponder_halt_ = ponder->register_module("halt", linear(d, 1, true));
  brain_out_ = brain->register_module("out_proj", linear(d, latent));

  ModulePtr emotion = register_module("emotion", group());
  emotion_weight_ =
      emotion->register_parameter("weight", torch::empty({static_cast<int64_t>(config_.emotions.size()), d}));

  ModulePtr decoder = register_module("decoder", group());
  decoder_embed_ = decoder->register_module("embed_tokens", group())
                       ->register_parameter("weight", torch::empty({config_.vocab_size, d}));
  from_latent_ = decoder->register_module("from_latent", linear(latent, d));
  decoder_blocks_ = decoder->register_module("layers", blocks(config_));
  decoder_norm_ = decoder->register_module("norm", RMSNorm(d, config_.norm_eps));
  // With a bias: the tokens' frequencies are learnt there, not by moving every latent one way.
  lm_head_ = decoder->register_module("lm_head", linear(d, config_.vocab_size, true));

  // The table is the contract checkpoints rely on; the modules chose names and shapes: they must agree.
  const auto table = paragraph_parameter_table(config_);
  const auto parameters = model::named_parameters(*this);
  NF_CHECK(parameters.size() == table.size(), UsageError, "the neuralflow model registers ", parameters.size(),
           " parameters but paragraph_table.h lists ", table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    NF_CHECK(parameters[i].first == table[i].first && parameters[i].second.sizes() == c10::IntArrayRef(table[i].second),
             UsageError, "parameter ", i, " is '", parameters[i].first, "' ", parameters[i].second.sizes(),
             " but paragraph_table.h gives '", table[i].first, "' ", c10::IntArrayRef(table[i].second));
  }
}

torch::Tensor ParagraphModelImpl::run_blocks(const std::string& stack, torch::nn::ModuleDict& stack_blocks,
                                             torch::Tensor hidden) {
  const RopeTables rope = rope_tables(config_.head_dim(), config_.rope_theta, hidden.size(1), hidden.device());
  for (int64_t i = 0; i < config_.n_layers; ++i) {
    const std::string unit = stack + ".layer." + std::to_string(i);
    if (unit_hooks_) unit_hooks_->before_forward(unit);
    hidden = stack_blocks[std::to_string(i)]->as<DecoderLayerImpl>()->forward(hidden, rope);
    if (unit_hooks_) unit_hooks_->after_forward(unit, hidden);
  }
  return hidden;
}

torch::Tensor ParagraphModelImpl::encode(const torch::Tensor& tokens, const torch::Tensor& lengths) {
  // Causal blocks over right-padded rows: a paragraph's tokens never see its padding, and the
  // mean over its own positions is the paragraph's summary.
  const torch::Tensor hidden =
      encoder_norm_(run_blocks("encoder", encoder_blocks_, torch::embedding(encoder_embed_, tokens)));
  const torch::Tensor present =
      (torch::arange(tokens.size(1), lengths.options()).unsqueeze(0) < lengths.unsqueeze(1)).to(hidden.scalar_type());
  // Normalized per position, then pooled: a norm after pooling would divide the paragraph's own
  // part by the component every paragraph shares, and the latents would collapse as it grows.
  const torch::Tensor pooled = (hidden * present.unsqueeze(-1)).sum(1) / present.sum(1, true).clamp_min(1);
  const torch::Tensor latents = to_latent_(pooled);
  // Put on the sphere only after the projection (vector_quantizer.h's on_sphere).
  return config_.cosine_codebook ? on_sphere(latents) : latents;
}

Quantized ParagraphModelImpl::quantize(const torch::Tensor& latents) {
  return model::quantize(latents, config_.cosine_codebook ? on_sphere(codebook_) : codebook_);
}

BrainOutput ParagraphModelImpl::think(const torch::Tensor& latents) {
  torch::Tensor hidden = brain_in_(latents);
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    hidden = brain_layers_[std::to_string(i)]->as<BrainLayerImpl>()->forward(hidden);
  }
  hidden = brain_norm_(hidden);
  // ACT: each step refines the state and says how likely it is to stop there; the output is the
  // halting-weighted mean of the steps' states. All steps are computed; halting zeroes the weights
  // of those after it.
  std::vector<torch::Tensor> states, halts;
  torch::Tensor state = hidden;
  for (int64_t n = 0; n < config_.max_ponder_steps; ++n) {
    state = state + torch::tanh(ponder_cell_(state));
    states.push_back(state);
    halts.push_back(torch::sigmoid(ponder_halt_(state)).squeeze(-1));
  }
  const int64_t batch = latents.size(0), positions = latents.size(1), steps = config_.max_ponder_steps;
  const Halting halting = act_halting(torch::stack(halts, -1).reshape({batch * positions, steps}), kActThreshold);
  const torch::Tensor weights = halting.weights.reshape({batch, positions, steps, 1});
  const torch::Tensor thought = (torch::stack(states, 2) * weights).sum(2);
  return {brain_out_(thought), halting.ponder_cost.reshape({batch, positions}),
          halting.steps.reshape({batch, positions})};
}

torch::Tensor ParagraphModelImpl::decode(const torch::Tensor& latents, const torch::Tensor& emotions,
                                         const torch::Tensor& tokens, const torch::Tensor& lengths) {
  torch::Tensor condition = from_latent_(latents);
  if (emotions.defined()) {
    const torch::Tensor labelled = (emotions >= 0).to(condition.scalar_type()).unsqueeze(1);
    condition = condition + torch::embedding(emotion_weight_, emotions.clamp_min(0)) * labelled;
  }
  // Position 0 is the condition; every later one reads it too, added to its token, so that the
  // decoder cannot learn to ignore the latent (posterior collapse) as a plain language model would.
  torch::Tensor hidden = condition.unsqueeze(1);
  if (tokens.size(1) > 1) {
    const torch::Tensor previous = torch::embedding(decoder_embed_, tokens.narrow(1, 0, tokens.size(1) - 1));
    hidden = torch::cat({hidden, previous + condition.unsqueeze(1)}, 1);
  }
  hidden = run_blocks("decoder", decoder_blocks_, hidden);
  if (lengths.defined()) {
    hidden = hidden.index({torch::arange(tokens.size(1), lengths.options()).unsqueeze(0) < lengths.unsqueeze(1)});
  }
  return lm_head_(decoder_norm_(hidden));
}

torch::Tensor ParagraphModelImpl::bag_of_words(const torch::Tensor& latents) {
  return torch::log_softmax(lm_head_(decoder_norm_(from_latent_(latents))).to(torch::kFloat), -1);
}

std::vector<std::vector<int64_t>> ParagraphModelImpl::generate(const torch::Tensor& latents,
                                                               const torch::Tensor& emotions, int64_t eos_id,
                                                               double temperature,
                                                               std::optional<at::Generator> generator) {
  const int64_t rows = latents.size(0);
  std::vector<std::vector<int64_t>> out(rows);
  std::vector<bool> done(rows, false);
  // No cache: a paragraph is short, so each token runs the decoder over the prefix again.
  torch::Tensor tokens = torch::zeros({rows, 1}, latents.options().dtype(torch::kLong));
  for (int64_t length = 1; length <= config_.max_paragraph_len; ++length) {
    const torch::Tensor logits = decode(latents, emotions, tokens).select(1, length - 1).to(torch::kFloat);
    const torch::Tensor next =
        temperature <= 0
            ? logits.argmax(-1)
            : torch::multinomial(torch::softmax(logits / temperature, -1), 1, false, generator).squeeze(-1);
    const torch::Tensor chosen = next.cpu();
    bool all_done = true;
    for (int64_t r = 0; r < rows; ++r) {
      if (done[r]) continue;
      const int64_t id = chosen[r].item<int64_t>();
      if (id == eos_id) {
        done[r] = true;
      } else {
        out[r].push_back(id);
        all_done = false;
      }
    }
    if (all_done) break;
    tokens.select(1, length - 1).copy_(next);
    tokens = torch::cat({tokens, torch::zeros({rows, 1}, tokens.options())}, 1);
  }
  return out;
}

int64_t initialize(ParagraphModelImpl& model, const InitOptions& options) {
  torch::NoGradGuard no_grad;
  int64_t count = 0;
  for (auto& [name, parameter] : named_parameters(model)) {
    const std::optional<at::Tensor> own = own_initial_value(options, model.config(), name, parameter.sizes());
    parameter.copy_(own ? *own : initial_value(options, name, parameter.sizes()));
    count += parameter.numel();
  }
  return count;
}

}  // namespace nf::model
