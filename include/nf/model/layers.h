// The building blocks of the Llama decoder, with Hugging Face's parameter names and math:
// RMSNorm, rotary tables, Attention (GQA + RoPE), Mlp (SwiGLU) and DecoderLayer; projections are
// the tensor-parallel linears of nf/parallel/tp. Each block takes how it is split (TensorParallel;
// no communicator or one rank = unsplit); under tp, attention owns n_heads/tp query and
// n_kv_heads/tp key/value heads and the MLP ffn/tp rows (sharding.h), and its output is replicated
// on every tp rank, or under sequence parallelism split along the sequence. Parameters are created
// uninitialized; nf::model::initialize fills them by name (init.h), so the values never depend on
// how the model was built or split.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "nf/dist/communicator.h"
#include "nf/model/kv_cache.h"
#include "nf/model/model_config.h"
#include "nf/parallel/tp/linear.h"

namespace nf::model {

// How the model is split by tensor parallelism. `comm` is the tp communicator (nullptr or one rank =
// unsplit; it must outlive the model). With `sequence_parallel` the hidden state between blocks is
// this rank's shard of the sequence, [batch, seq/tp, d_model], instead of the whole sequence
// replicated on every tp rank (docs/parallelism.md, "Sequence parallelism").
struct TensorParallel {
  // Implicit, so that a communicator alone means plain tensor parallelism: CausalLM(config, &tp).
  TensorParallel(dist::Communicator* communicator = nullptr, bool split_sequence = false)
      : comm(communicator), sequence_parallel(split_sequence) {}
  int64_t size() const { return comm ? comm->size() : 1; }
  // Sequence parallelism in effect: asked for, over more than one rank.
  bool splits_sequence() const { return sequence_parallel && size() > 1; }

  dist::Communicator* comm;
  bool sequence_parallel;
};

// The input of column-parallel projections that share it (q/k/v, gate/up, the vocabulary head):
// through copy_to_tp (Megatron's f), or under sequence parallelism through gather_sequence, which
// assembles the whole sequence; unsplit, the hidden state itself.
torch::Tensor column_parallel_input(const torch::Tensor& hidden, const TensorParallel& tp);

// RMSNorm as in HF Llama: normalize in fp32, cast back to the input dtype, then scale by weight.
// Under sequence parallelism its input is this rank's positions only (see forward()).
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const TensorParallel& tp = {});
  torch::Tensor forward(const torch::Tensor& input);
  torch::Tensor weight;

 private:
  double eps_;
  TensorParallel tp_;
};
TORCH_MODULE(RMSNorm);

// cos/sin of the rotary angles for positions [0, seq_len), each [seq_len, head_dim] in fp32, laid
// out as HF's cat(freqs, freqs) so that rotate_half pairs dimension i with i + head_dim/2.
struct RopeTables {
  torch::Tensor cos;
  torch::Tensor sin;
};
RopeTables rope_tables(int64_t head_dim, double theta, int64_t seq_len, const torch::Device& device);

// The attention mask that keeps the documents of packed rows apart: [batch, 1, seq, seq] bool, true
// where query i may attend key j, i.e. j <= i and both in the same document. `document_ids`
// [batch, seq]: equal ids = one document.
torch::Tensor document_attention_mask(const torch::Tensor& document_ids);

// Causal self-attention with grouped-query heads: query head h reads key/value head
// h / (n_heads / n_kv_heads), as HF's repeat_kv. Input and output [batch, seq, d_model].
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, const TensorParallel& tp);
  // hidden [batch, seq, d_model] (under sequence parallelism [batch, seq/tp, d_model], and `rope`
  // covers the whole sequence) -> the same shape. `mask`: undefined = causal (the fused kernel),
  // else a document_attention_mask of the whole sequence. `recompute_core`: softmax(q kᵀ) v keeps
  // only q, k, v and runs again in backward (selective recomputation, recompute.h). `cache`
  // (generation, kv_cache.h): the keys and values of earlier positions, which this call's extend;
  // `rope` then holds each row's positions ([batch, 1, seq, head_dim]) and `mask` covers
  // [batch, 1, seq, cached + seq].
  torch::Tensor forward(const torch::Tensor& hidden, const RopeTables& rope, const torch::Tensor& mask = {},
                        bool recompute_core = false, LayerKv* cache = nullptr);

 private:
  TensorParallel tp_;
  int64_t n_heads_, n_kv_heads_, head_dim_;  // the heads this tp rank owns
  parallel::tp::ColumnParallelLinear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr};
  parallel::tp::RowParallelLinear o_proj_{nullptr};
};
TORCH_MODULE(Attention);

// SwiGLU: down_proj(silu(gate_proj(x)) * up_proj(x)).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const ModelConfig& config, const TensorParallel& tp);
  torch::Tensor forward(const torch::Tensor& hidden);

 private:
  TensorParallel tp_;
  parallel::tp::ColumnParallelLinear gate_proj_{nullptr}, up_proj_{nullptr};
  parallel::tp::RowParallelLinear down_proj_{nullptr};
};
TORCH_MODULE(Mlp);

// One pre-norm block: h = x + attn(norm(x)); out = h + mlp(norm(h)).
class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, const TensorParallel& tp);
  torch::Tensor forward(const torch::Tensor& hidden, const RopeTables& rope, const torch::Tensor& mask = {},
                        bool recompute_attention_core = false, LayerKv* cache = nullptr);

 private:
  Attention self_attn_{nullptr};
  Mlp mlp_{nullptr};
  RMSNorm input_layernorm_{nullptr}, post_attention_layernorm_{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace nf::model
