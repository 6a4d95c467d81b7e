// The brain's GRU layer and Mamba block (recurrent.h).
#include "nf/model/recurrent.h"

#include <torch/torch.h>

#include "nf/model/paragraph_table.h"

namespace nf::model {

GruLayerImpl::GruLayerImpl(int64_t input_size, int64_t hidden_size) {
  weight_ih = register_parameter("weight_ih", torch::empty({3 * hidden_size, input_size}));
  weight_hh = register_parameter("weight_hh", torch::empty({3 * hidden_size, hidden_size}));
  bias_ih = register_parameter("bias_ih", torch::empty({3 * hidden_size}));
  bias_hh = register_parameter("bias_hh", torch::empty({3 * hidden_size}));
}

torch::Tensor GruLayerImpl::forward(const torch::Tensor& x) {
  const int64_t hidden = weight_hh.size(1);
  // The input's part of every gate for every step at once; the recurrence's one step at a time.
  const std::vector<torch::Tensor> input_gates = torch::nn::functional::linear(x, weight_ih, bias_ih).chunk(3, -1);
  torch::Tensor h = torch::zeros({x.size(0), hidden}, x.options());
  std::vector<torch::Tensor> outputs;
  for (int64_t t = 0; t < x.size(1); ++t) {
    const std::vector<torch::Tensor> hidden_gates = torch::nn::functional::linear(h, weight_hh, bias_hh).chunk(3, -1);
    const torch::Tensor r = torch::sigmoid(input_gates[0].select(1, t) + hidden_gates[0]);
    const torch::Tensor z = torch::sigmoid(input_gates[1].select(1, t) + hidden_gates[1]);
    const torch::Tensor n = torch::tanh(input_gates[2].select(1, t) + r * hidden_gates[2]);
    h = (1 - z) * n + z * h;
    outputs.push_back(h);
  }
  return torch::stack(outputs, 1);
}

torch::Tensor selective_scan(const torch::Tensor& u, const torch::Tensor& delta, const torch::Tensor& A,
                             const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& D) {
  // [B, Dn, T, N]: the decay and the input of every step, then the recurrence along T.
  const torch::Tensor decay = torch::exp(delta.unsqueeze(-1) * A.unsqueeze(1));
  const torch::Tensor input = (delta * u).unsqueeze(-1) * Bm.transpose(1, 2).unsqueeze(1);
  torch::Tensor h = torch::zeros({u.size(0), u.size(1), A.size(1)}, u.options());
  std::vector<torch::Tensor> ys;
  for (int64_t t = 0; t < u.size(2); ++t) {
    h = decay.select(2, t) * h + input.select(2, t);
    ys.push_back(torch::einsum("bdn,bn->bd", {h, Cm.select(2, t)}));
  }
  return torch::stack(ys, 2) + u * D.unsqueeze(-1);
}

MambaBlockImpl::MambaBlockImpl(const ModelConfig& config)
    : inner_(mamba_inner(config)), dt_rank_(mamba_dt_rank(config)), state_(config.mamba_d_state) {
  using torch::nn::LinearOptions;
  A_log = register_parameter("A_log", torch::empty({inner_, state_}));
  D = register_parameter("D", torch::empty({inner_}));
  in_proj_ = register_module("in_proj", torch::nn::Linear(LinearOptions(config.d_model, 2 * inner_).bias(false)));
  // conv1d.weight [inner, 1, width] and conv1d.bias [inner], as torch's depthwise Conv1d names them.
  const auto conv = register_module("conv1d", std::make_shared<torch::nn::Module>());
  conv_weight_ = conv->register_parameter("weight", torch::empty({inner_, 1, kMambaConvWidth}));
  conv_bias_ = conv->register_parameter("bias", torch::empty({inner_}));
  x_proj_ = register_module("x_proj", torch::nn::Linear(LinearOptions(inner_, dt_rank_ + 2 * state_).bias(false)));
  dt_proj_ = register_module("dt_proj", torch::nn::Linear(LinearOptions(dt_rank_, inner_)));
  out_proj_ = register_module("out_proj", torch::nn::Linear(LinearOptions(inner_, config.d_model).bias(false)));
}

torch::Tensor MambaBlockImpl::forward(const torch::Tensor& x) {
  const int64_t steps = x.size(1);
  const std::vector<torch::Tensor> xz = in_proj_(x).split(inner_, -1);
  // The causal depthwise conv as width shifted products, [B, T, inner]: output t reads inputs
  // t − width + 1 .. t (zeros before the first). (torch's conv1d would allocate through the
  // trainer's counting allocator in a way LibTorch's raw_allocate refuses.)
  const torch::Tensor padded =
      torch::nn::functional::pad(xz[0], torch::nn::functional::PadFuncOptions({0, 0, kMambaConvWidth - 1, 0}));
  torch::Tensor convolved = conv_bias_.expand({x.size(0), steps, inner_});
  for (int64_t k = 0; k < kMambaConvWidth; ++k) {
    convolved = convolved + padded.narrow(1, k, steps) * conv_weight_.select(1, 0).select(1, k);
  }
  const torch::Tensor u = torch::silu(convolved).transpose(1, 2);  // [B, inner, T]
  const std::vector<torch::Tensor> parts = x_proj_(u.transpose(1, 2)).split_with_sizes({dt_rank_, state_, state_}, -1);
  const torch::Tensor delta = torch::nn::functional::softplus(dt_proj_(parts[0])).transpose(1, 2);
  const torch::Tensor y =
      selective_scan(u, delta, -torch::exp(A_log), parts[1].transpose(1, 2), parts[2].transpose(1, 2), D);
  return out_proj_(y.transpose(1, 2) * torch::silu(xz[1]));
}

}  // namespace nf::model
