// Writes what the Python reference tests check (tests/python/*.py): for a few small Llama configs
// the weights, a batch, our logits, loss and gradients; an AdamW + clipping run on fixed
// gradients; LR schedule values. Usage: nf_reference_export OUT_DIR. Tensors go to <case>.pt
// (torch::pickle_save of a dict, read by Python's torch.load), settings to <case>.json.
#include <torch/serialize.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "export_case.h"
#include "nf/model/loss.h"
#include "nf/model/transformer.h"
#include "nf/optim/adamw.h"
#include "nf/optim/grad_clip.h"
#include "nf/optim/lr_schedule.h"

namespace {

using nf::model::ModelConfig;
using nf_reference::Dict;
using nf_reference::write_case;
using nf_reference::write_file;

struct ModelCase {
  std::string name;
  ModelConfig config;
  int64_t batch, seq;
  bool masked;
};

void export_model_case(const std::string& dir, const ModelCase& c) {
  nf::model::CausalLM model(c.config);
  const int64_t count = nf::model::initialize(
      *model, nf::model::InitOptions().with_seed(7).with_std(c.config.init_std).with_n_layers(c.config.n_layers));
  at::Generator gen = at::detail::createCPUGenerator(42);
  const at::Tensor tokens = at::randint(c.config.vocab_size, {c.batch, c.seq}, gen, at::kLong);
  const at::Tensor targets = at::randint(c.config.vocab_size, {c.batch, c.seq}, gen, at::kLong);
  std::optional<at::Tensor> mask;
  if (c.masked) mask = at::rand({c.batch, c.seq}, gen) < 0.7;

  const at::Tensor logits = model->forward(tokens);
  const nf::model::LossSum loss = nf::model::cross_entropy_sum(logits, targets, mask);
  loss.mean().backward();

  Dict tensors;
  nlohmann::json names = nlohmann::json::array();
  for (const auto& [name, param] : nf::model::named_parameters(*model)) {
    tensors.insert("param/" + name, param.detach());
    tensors.insert("grad/" + name, param.grad());
    names.push_back(name);
  }
  tensors.insert("tokens", tokens);
  tensors.insert("targets", targets);
  if (mask) tensors.insert("mask", *mask);
  tensors.insert("logits", logits.detach());
  tensors.insert("loss_sum", loss.sum.detach());
  tensors.insert("loss_count", loss.count);
  const ModelConfig& m = c.config;
  nlohmann::json info = {
      {"vocab_size", m.vocab_size}, {"d_model", m.d_model},       {"n_layers", m.n_layers},
      {"n_heads", m.n_heads},       {"n_kv_heads", m.kv_heads()}, {"ffn_dim", m.ffn_dim()},
      {"rope_theta", m.rope_theta}, {"norm_eps", m.norm_eps},     {"tie_embeddings", m.tie_embeddings},
      {"parameter_names", names},   {"parameter_count", count},   {"count_parameters", nf::model::count_parameters(m)}};
  write_case(dir, c.name, tensors, info);
}

// AdamW with weight decay groups by name, global-norm clipping at 1.0 and a warmup+cosine lr, on
// gradients drawn from a fixed generator.
void export_adamw_case(const std::string& dir) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"model.embed_tokens.weight", {5, 3}},
      {"model.layers.0.mlp.up_proj.weight", {4, 3}},
      {"model.layers.0.input_layernorm.weight", {3}},
      {"model.norm.weight", {3}},
      {"lm_head.weight", {5, 3}}};
  at::Generator gen = at::detail::createCPUGenerator(3);
  nf::optim::NamedTensors params;
  Dict tensors;
  for (const auto& [name, shape] : shapes) {
    params.emplace_back(name, at::randn(shape, gen, at::kFloat).requires_grad_(true));
    tensors.insert("initial/" + name, params.back().second.detach().clone());
  }
  const auto adamw_options = nf::optim::AdamWOptions().with_betas(0.9, 0.95).with_eps(1e-8).with_weight_decay(0.1);
  nf::optim::AdamW optimizer(params, adamw_options);
  const auto schedule =
      nf::optim::LrScheduleOptions().with_peak_lr(1e-2).with_min_lr_ratio(0.1).with_warmup_steps(2).with_total_steps(6);
  const int64_t steps = 6;
  std::vector<at::Tensor> parameters;
  for (const auto& item : params) parameters.push_back(item.second);
  nlohmann::json lrs = nlohmann::json::array(), norms = nlohmann::json::array(), decays = nlohmann::json::object();
  for (int64_t step = 0; step < steps; ++step) {
    for (auto& [name, param] : params) {
      param.mutable_grad() = at::randn(param.sizes(), gen, at::kFloat) * 0.5;
      tensors.insert("grad" + std::to_string(step) + "/" + name, param.grad().clone());
    }
    norms.push_back(nf::optim::clip_grad_norm(parameters, 1.0));
    const double lr = nf::optim::learning_rate_at(schedule, step);
    lrs.push_back(lr);
    optimizer.step(lr);
    for (const auto& [name, param] : params)
      tensors.insert("step" + std::to_string(step) + "/" + name, param.detach().clone());
  }
  for (const auto& [key, value] : optimizer.state()) tensors.insert("state/" + key, value);
  for (const auto& [name, param] : params) decays[name] = adamw_options.weight_decay_for(name);
  write_case(dir, "adamw", tensors,
             {{"steps", steps},
              {"lrs", lrs},
              {"norms", norms},
              {"weight_decay", decays},
              {"max_norm", 1.0},
              {"beta1", 0.9},
              {"beta2", 0.95},
              {"eps", 1e-8},
              {"parameter_names", nlohmann::json(shapes)}});
}

void export_lr_schedules(const std::string& dir) {
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& [kind, decay] : nf::optim::lr_decay_names()) {
    for (const auto& [warmup, total] : {std::pair<int64_t, int64_t>{0, 10}, {3, 10}, {10, 10}, {5, 1000}}) {
      const auto options = nf::optim::LrScheduleOptions()
                               .with_peak_lr(3e-4)
                               .with_min_lr_ratio(0.1)
                               .with_warmup_steps(warmup)
                               .with_total_steps(total)
                               .with_decay(decay);
      nlohmann::json values = nlohmann::json::array();
      for (int64_t step = 0; step <= total + 2; ++step) values.push_back(nf::optim::learning_rate_at(options, step));
      cases.push_back({{"kind", kind},
                       {"peak_lr", 3e-4},
                       {"min_lr_ratio", 0.1},
                       {"warmup", warmup},
                       {"total", total},
                       {"values", values}});
    }
  }
  write_file(dir + "/lr_schedule.json", cases.dump(2));
}

ModelConfig config(int64_t vocab, int64_t d, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ffn, double theta,
                   bool tied) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.d_model = d;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.ffn_hidden = ffn;
  c.rope_theta = theta;
  c.tie_embeddings = tied;
  c.max_seq_len = 64;
  c.init_std = 0.1;  // larger than training's 0.02, so attention is far from uniform and errors show
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: nf_reference_export OUT_DIR\n";
    return 2;
  }
  torch::set_num_threads(1);
  const std::string dir = argv[1];
  ModelCase mqa{"mqa_untied_eps", config(64, 32, 3, 4, 1, 80, 10000.0, false), 2, 9, true};
  mqa.config.norm_eps = 1e-6;
  for (const ModelCase& c :
       {ModelCase{"gqa_tied", config(97, 64, 2, 4, 2, 0, 10000.0, true), 2, 16, true},
        ModelCase{"mha_untied", config(101, 48, 2, 6, 0, 96, 500000.0, false), 3, 12, false}, mqa}) {
    export_model_case(dir, c);
  }
  export_adamw_case(dir);
  export_lr_schedules(dir);
  std::cout << "wrote reference cases to " << dir << "\n";
  return 0;
}
