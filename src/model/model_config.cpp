// Parameter counting and cross-field validation of the model hyperparameters.
#include "nf/model/model_config.h"

#include "nf/core/error.h"

namespace nf::model {

int64_t count_parameters(const ModelConfig& c) {
  const int64_t d = c.d_model, kv_width = c.kv_heads() * c.head_dim();
  const int64_t attention = d * d /*q*/ + 2 * d * kv_width /*k, v*/ + d * d /*o*/;
  const int64_t mlp = 3 * d * c.ffn_dim();
  const int64_t per_layer = attention + mlp + 2 * d /*input and post-attention norms*/;
  const int64_t embedding = c.vocab_size * d;
  return embedding + c.n_layers * per_layer + d /*final norm*/ + (c.tie_embeddings ? 0 : embedding);
}

void validate(const ModelConfig& c) {
  NF_CHECK(c.d_model % c.n_heads == 0, ConfigError, "model.d_model (", c.d_model,
           ") must be divisible by model.n_heads (", c.n_heads, ")");
  NF_CHECK(c.n_heads % c.kv_heads() == 0, ConfigError, "model.n_heads (", c.n_heads,
           ") must be divisible by model.n_kv_heads (", c.kv_heads(), ")");
  NF_CHECK(c.head_dim() % 2 == 0, ConfigError, "model.d_model / model.n_heads = ", c.head_dim(),
           " must be even for rotary embeddings");
}

}  // namespace nf::model
