// Writes what tests/python/latent_reference.py checks against plain torch: nf's vector quantization
// (straight-through gradient, commitment and codebook losses; euclidean and on the sphere), EMA codebook step and
// perplexity, ACT halting and ponder cost, GRU layer, selective scan and Mamba block, each on small random inputs with
// the gradients of a fixed scalar. Usage: nf_latent_export OUT_DIR. Tensors go to <case>.pt (torch::pickle_save of a
// dict), settings to <case>.json.
#include <torch/serialize.h>
#include <torch/torch.h>

#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "export_case.h"
#include "nf/model/act.h"
#include "nf/model/paragraph_table.h"
#include "nf/model/recurrent.h"
#include "nf/model/vector_quantizer.h"

namespace {

using nf_reference::Dict;
using nf_reference::write_case;

// `case_name` "vq": z and the codebook as they are; "vq_sphere": both through on_sphere first
// (model.cosine_codebook), the gradients reaching the raw z and codebook through it.
void export_vq(const std::string& dir, const std::string& case_name, at::Generator& gen) {
  const double beta = 0.25, gamma = 1.0;
  const at::Tensor z = at::randn({12, 6}, gen).requires_grad_(true);
  const at::Tensor codebook = at::randn({9, 6}, gen).requires_grad_(true);
  const at::Tensor mask = (at::rand({12}, gen) < 0.75).to(at::kFloat);
  const at::Tensor grad_out = at::randn({12, 6}, gen);
  const bool sphere = case_name == "vq_sphere";
  const at::Tensor latents = sphere ? nf::model::on_sphere(z) : z;
  const nf::model::Quantized q = nf::model::quantize(latents, sphere ? nf::model::on_sphere(codebook) : codebook);
  const nf::model::VqLossSums sums = nf::model::vq_loss_sums(latents, q.quantized, mask);
  ((q.straight_through * grad_out).sum() + beta * sums.commit + gamma * sums.codebook).backward();
  Dict t;
  t.insert("z", z.detach());
  t.insert("codebook", codebook.detach());
  t.insert("row_mask", mask);
  t.insert("grad_out", grad_out);
  t.insert("indices", q.indices);
  t.insert("quantized", q.quantized.detach());
  t.insert("straight_through", q.straight_through.detach());
  t.insert("commit_sum", sums.commit.detach());
  t.insert("codebook_sum", sums.codebook.detach());
  t.insert("grad_z", z.grad());
  t.insert("grad_codebook", codebook.grad());
  write_case(dir, case_name, t, {{"beta", beta}, {"gamma", gamma}});
}

void export_ema(const std::string& dir, at::Generator& gen) {
  const double decay = 0.9, epsilon = 1e-5;
  const int64_t codes = 7;
  const at::Tensor z = at::randn({15, 4}, gen);
  const at::Tensor indices = at::randint(codes - 1, {15}, gen, at::kLong);  // the last code stays unused
  const at::Tensor mask = (at::rand({15}, gen) < 0.8).to(at::kFloat);
  const at::Tensor count = at::rand({codes}, gen) * 3;
  const at::Tensor sum = at::randn({codes, 4}, gen);
  const at::Tensor batch_counts = nf::model::code_counts(indices, mask, codes);
  const at::Tensor batch_sums = nf::model::code_sums(z, indices, mask, codes);
  const nf::model::EmaCodebook ema = nf::model::ema_update(count, sum, batch_counts, batch_sums, decay, epsilon);
  Dict t;
  t.insert("z", z);
  t.insert("indices", indices);
  t.insert("row_mask", mask);
  t.insert("count", count);
  t.insert("sum", sum);
  t.insert("batch_counts", batch_counts);
  t.insert("batch_sums", batch_sums);
  t.insert("new_count", ema.count);
  t.insert("new_sum", ema.sum);
  t.insert("new_codebook", ema.codebook);
  write_case(dir, "ema", t,
             {{"decay", decay}, {"epsilon", epsilon}, {"perplexity", nf::model::perplexity(batch_counts)}});
}

void export_act(const std::string& dir, at::Generator& gen) {
  const double threshold = 0.99;
  at::Tensor probs = at::rand({10, 5}, gen) * 0.9 + 0.05;
  probs[3].fill_(0.1);  // never reaches the threshold: halts at the last step
  probs[4][0] = 0.995;  // halts at once
  probs = probs.requires_grad_(true);
  const at::Tensor grad_weights = at::randn({10, 5}, gen);
  const nf::model::Halting halting = nf::model::act_halting(probs, threshold);
  ((halting.weights * grad_weights).sum() + halting.ponder_cost.sum()).backward();
  Dict t;
  t.insert("halt_probs", probs.detach());
  t.insert("grad_weights", grad_weights);
  t.insert("weights", halting.weights.detach());
  t.insert("steps", halting.steps);
  t.insert("remainder", halting.remainder.detach());
  t.insert("ponder_cost", halting.ponder_cost.detach());
  t.insert("grad_halt_probs", probs.grad());
  write_case(dir, "act", t, {{"threshold", threshold}});
}

// A layer's case: its input x, the gradient grad_out fed back into (output · grad_out).sum(), the
// output, the input's gradient, and each parameter with its gradient (under `grad_prefix` + name,
// as latent_reference.py reads that case).
Dict layer_case(torch::nn::Module& layer, const std::function<at::Tensor(const at::Tensor&)>& forward,
                const at::Tensor& x, const at::Tensor& grad_out, const std::string& grad_prefix) {
  const at::Tensor input = x.clone().requires_grad_(true);
  const at::Tensor output = forward(input);
  (output * grad_out).sum().backward();
  Dict t;
  t.insert("x", x);
  t.insert("grad_out", grad_out);
  t.insert("output", output.detach());
  t.insert("grad_x", input.grad());
  for (const auto& item : layer.named_parameters()) {
    t.insert(item.key(), item.value().detach());
    t.insert(grad_prefix + item.key(), item.value().grad());
  }
  return t;
}

void export_gru(const std::string& dir, at::Generator& gen) {
  nf::model::GruLayer gru(5, 6);
  for (auto& parameter : gru->parameters()) parameter.data().copy_(at::randn(parameter.sizes(), gen) * 0.4);
  const at::Tensor x = at::randn({3, 4, 5}, gen);
  const at::Tensor grad_out = at::randn({3, 4, 6}, gen);
  write_case(dir, "gru",
             layer_case(
                 *gru, [&](const at::Tensor& in) { return gru->forward(in); }, x, grad_out, "grad_"),
             nlohmann::json::object());
}

void export_scan(const std::string& dir, at::Generator& gen) {
  const at::Tensor u = at::randn({2, 3, 5}, gen);
  const at::Tensor delta = at::rand({2, 3, 5}, gen) + 0.05;
  const at::Tensor A = -at::rand({3, 4}, gen) * 2;
  const at::Tensor B = at::randn({2, 4, 5}, gen);
  const at::Tensor C = at::randn({2, 4, 5}, gen);
  const at::Tensor D = at::randn({3}, gen);
  Dict t;
  t.insert("u", u);
  t.insert("delta", delta);
  t.insert("A", A);
  t.insert("B", B);
  t.insert("C", C);
  t.insert("D", D);
  t.insert("y", nf::model::selective_scan(u, delta, A, B, C, D));
  write_case(dir, "scan", t, nlohmann::json::object());
}

void export_mamba(const std::string& dir, at::Generator& gen) {
  nf::model::ModelConfig config;
  config.arch = nf::model::Architecture::kNeuralFlow;
  config.d_model = 8;
  config.mamba_d_state = 3;
  nf::model::MambaBlock mamba(config);
  for (const auto& item : mamba->named_parameters()) {
    at::Tensor value = at::randn(item.value().sizes(), gen) * 0.3;
    if (item.key() == "A_log") value = at::log(at::rand(item.value().sizes(), gen) * 3 + 0.5);
    item.value().data().copy_(value);
  }
  const at::Tensor x = at::randn({2, 5, 8}, gen);
  const at::Tensor grad_out = at::randn({2, 5, 8}, gen);
  write_case(dir, "mamba",
             layer_case(
                 *mamba, [&](const at::Tensor& in) { return mamba->forward(in); }, x, grad_out, "grad/"),
             {{"d_model", config.d_model},
              {"d_state", config.mamba_d_state},
              {"d_conv", nf::model::kMambaConvWidth},
              {"expand", nf::model::mamba_inner(config) / config.d_model},
              {"dt_rank", nf::model::mamba_dt_rank(config)}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: nf_latent_export OUT_DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  at::Generator gen = at::detail::createCPUGenerator(11);
  export_vq(dir, "vq", gen);
  export_vq(dir, "vq_sphere", gen);
  export_ema(dir, gen);
  export_act(dir, gen);
  export_gru(dir, gen);
  export_scan(dir, gen);
  export_mamba(dir, gen);
  std::cout << "wrote vq, vq_sphere, ema, act, gru, scan, mamba to " << dir << "\n";
  return 0;
}
