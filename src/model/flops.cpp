#include "nf/model/flops.h"

namespace nf::model {

double training_flops_per_token(const ModelConfig& config, int64_t seq_len) {
  // Every parameter is a matmul weight except the norms and the embedding lookup; the output
  // projection is a matmul even when it shares the embedding's weight.
  const int64_t norms = (2 * config.n_layers + 1) * config.d_model;
  const int64_t embedding = config.vocab_size * config.d_model;
  const int64_t lm_head = config.tie_embeddings ? embedding : 0;
  const double matmul_weights = static_cast<double>(count_parameters(config) - norms - embedding + lm_head);
  const double attention = 12.0 * static_cast<double>(config.n_layers * seq_len * config.d_model);
  return 6.0 * matmul_weights + attention;
}

}  // namespace nf::model
