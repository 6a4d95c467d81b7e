// Model FLOPs per trained token, the numerator of MFU: 6 per matmul weight (forward 2, backward 4)
// plus the attention scores and values, 12 · n_layers · seq_len · d_model (causal masking is not
// discounted, as in the PaLM paper's appendix B, so numbers compare with other trainers).
#pragma once

#include <cstdint>

#include "nf/model/model_config.h"

namespace nf::model {

double training_flops_per_token(const ModelConfig& config, int64_t seq_len);

}  // namespace nf::model
