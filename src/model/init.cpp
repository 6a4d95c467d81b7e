// Layout-independent weight initialization (see init.h): a SHA-256 of (seed, name, shape) seeds a
// private CPU generator per parameter, so no global RNG state is read or advanced.
#include "nf/model/init.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <sstream>

#include "nf/core/error.h"
#include "nf/core/hash.h"

namespace nf::model {
namespace {

bool is_norm(const std::string& name) { return name.find("norm") != std::string::npos; }

bool is_output_projection(const std::string& name) {
  return name.find("o_proj") != std::string::npos || name.find("down_proj") != std::string::npos;
}

}  // namespace

uint64_t parameter_seed(int64_t seed, const std::string& name, c10::IntArrayRef full_shape) {
  std::ostringstream key;
  key << seed << '/' << name << '/';
  for (size_t i = 0; i < full_shape.size(); ++i) key << (i ? "x" : "") << full_shape[i];
  return std::stoull(sha256_hex(key.str()).substr(0, 16), nullptr, 16);
}

at::Tensor initial_value(const InitOptions& options, const std::string& name, c10::IntArrayRef full_shape) {
  const auto fp32 = at::TensorOptions().dtype(at::kFloat).device(at::kCPU);
  if (is_norm(name)) return at::ones(full_shape, fp32);
  // LoRA as PEFT starts it: B = 0, so the adapted model starts as the base; A from
  // kaiming_uniform(a = √5), i.e. U(-1/√in, 1/√in).
  if (name.find(".lora_B.") != std::string::npos) return at::zeros(full_shape, fp32);
  if (name.find(".lora_A.") != std::string::npos) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(full_shape.back()));
    at::Generator generator = at::detail::createCPUGenerator(parameter_seed(options.seed, name, full_shape));
    return at::empty(full_shape, fp32).uniform_(-bound, bound, generator);
  }
  NF_CHECK(full_shape.size() >= 2, ConfigError, "no init rule for the ", full_shape.size(), "-D parameter '", name,
           "': only norms may be vectors (the model has no biases)");
  double std = options.std;
  if (options.scale_output_projections && is_output_projection(name)) {
    std /= std::sqrt(2.0 * static_cast<double>(options.n_layers));
  }
  at::Generator generator = at::detail::createCPUGenerator(parameter_seed(options.seed, name, full_shape));
  return at::normal(0.0, std, full_shape, generator, fp32);
}

}  // namespace nf::model
