// The NeuralFlow brain's sequence layers, written with LibTorch ops (a step loop over the
// paragraphs: sequences are a few paragraphs long): a GRU layer with torch.nn.GRU's parameters and
// equations, and a Mamba block (Gu & Dao 2023) with mamba-ssm's parameter names and its reference
// (slow-path) math, selective_scan included. Parameters are created uninitialized; the model fills
// them by name (paragraph_model.h).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "nf/model/model_config.h"

namespace nf::model {

// h' = (1 − z) ⊙ n + z ⊙ h with r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h +
// b_hz), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); weights stacked r, z, n as torch's.
class GruLayerImpl : public torch::nn::Module {
 public:
  GruLayerImpl(int64_t input_size, int64_t hidden_size);
  // x [B, T, input] -> every step's hidden state [B, T, hidden], from h_0 = 0.
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};
TORCH_MODULE(GruLayer);

// The selective scan (mamba-ssm's selective_scan_ref, without the gate): per channel d and state s,
// h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t u_t B_t, y_t = Σ_s h_t C_t + D ⊙ u_t, from h_0 = 0.
// u, delta [B, Dn, T]; A [Dn, N]; Bm, Cm [B, N, T]; D [Dn] -> y [B, Dn, T].
torch::Tensor selective_scan(const torch::Tensor& u, const torch::Tensor& delta, const torch::Tensor& A,
                             const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& D);

// A Mamba block: in_proj to (x, z); x through a causal depthwise conv and SiLU; Δ, B, C from x
// (x_proj, dt_proj, softplus); the selective scan with A = −exp(A_log); gated by SiLU(z); out_proj.
class MambaBlockImpl : public torch::nn::Module {
 public:
  explicit MambaBlockImpl(const ModelConfig& config);
  // x [B, T, d_model] -> [B, T, d_model], causal over T.
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor A_log, D;

 private:
  int64_t inner_, dt_rank_, state_;
  torch::nn::Linear in_proj_{nullptr}, x_proj_{nullptr}, dt_proj_{nullptr}, out_proj_{nullptr};
  torch::Tensor conv_weight_, conv_bias_;
};
TORCH_MODULE(MambaBlock);

}  // namespace nf::model
