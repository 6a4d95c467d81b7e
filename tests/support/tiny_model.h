// The tiny decoder of the C++ tests, in one place: 2 layers, grouped-query attention (4 heads over
// 2 key/value heads), a SwiGLU width and head counts that tp 2 divides, and an odd vocabulary that
// tp 2 pads (61 -> 62 rows). A test that needs another shape changes a field of the copy it gets.
#pragma once

#include "nf/model/model_config.h"

namespace nf::testing {

inline model::ModelConfig tiny_model_config() {
  model::ModelConfig config;
  config.vocab_size = 61;
  config.d_model = 32;
  config.n_layers = 2;
  config.n_heads = 4;
  config.n_kv_heads = 2;
  config.ffn_hidden = 48;
  config.max_seq_len = 64;
  return config;
}

}  // namespace nf::testing
