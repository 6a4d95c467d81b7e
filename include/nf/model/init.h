// Layout-independent weight initialization: every parameter's initial value is a pure function of
// (seed, parameter name, full shape), so a tensor-parallel shard takes a slice of the same full
// tensor and changing tp/pp/dp never changes the math.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace nf::model {

struct InitOptions {
  int64_t seed = 1234;   // training.seed
  double std = 0.02;     // model.init_std: Normal(0, std) for every matrix
  int64_t n_layers = 1;  // for the scaled output projections
  // GPT-2 / Megatron: the projections that write into the residual stream (o_proj, down_proj) use
  // std / sqrt(2 · n_layers), so the residual's variance does not grow with depth. Off = HF Llama.
  bool scale_output_projections = true;

  InitOptions& with_seed(int64_t value) {
    seed = value;
    return *this;
  }
  InitOptions& with_std(double value) {
    std = value;
    return *this;
  }
  InitOptions& with_n_layers(int64_t value) {
    n_layers = value;
    return *this;
  }
  InitOptions& with_scaled_output_projections(bool value) {
    scale_output_projections = value;
    return *this;
  }
};

// The 64-bit generator seed of one parameter: the first 8 bytes of SHA-256("seed/name/shape").
uint64_t parameter_seed(int64_t seed, const std::string& name, c10::IntArrayRef full_shape);

// The full initial tensor (fp32, CPU) of the parameter `name` (a Hugging Face Llama name):
// ones for norms (names containing "norm"), LoRA's B zeros and A U(-1/√in, 1/√in) (PEFT's
// start), Normal(0, std) for the other matrices, drawn from a CPU
// generator seeded by parameter_seed. A shard slices this tensor; the values never depend on the
// device or thread count. Throws ConfigError for a 1-D parameter that is not a norm.
at::Tensor initial_value(const InitOptions& options, const std::string& name, c10::IntArrayRef full_shape);

}  // namespace nf::model
