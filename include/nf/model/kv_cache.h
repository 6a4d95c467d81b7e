// What a generation keeps between its steps (docs/generation.md): each decoder layer's keys and
// values of the tokens seen so far, and which positions hold a token, so that a new token runs the
// layers once instead of the whole sequence again. CausalLM::forward_cached appends to it. Rows
// of a batch are left-padded to one length: a padding position is never attended to, and each
// row's tokens are numbered (RoPE positions) from its first real token, as in Hugging Face's
// generate with an attention mask.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>

namespace nf::model {

// One layer's keys and values, [batch, kv_heads / tp, length, head_dim] (post-RoPE keys).
struct LayerKv {
  torch::Tensor key;
  torch::Tensor value;
};

struct KvCache {
  std::map<int64_t, LayerKv> layers;  // by global layer index; empty until the first forward
  torch::Tensor present;              // [batch, length] bool: true where a position holds a token
  int64_t length() const { return present.defined() ? present.size(1) : 0; }
};

}  // namespace nf::model
