// VQ-VAE quantization, its losses and the EMA codebook (vector_quantizer.h).
#include "nf/model/vector_quantizer.h"

#include <ATen/ATen.h>

#include <cmath>

namespace nf::model {

at::Tensor on_sphere(const at::Tensor& rows) {
  return rows * (std::sqrt(static_cast<double>(rows.size(-1))) / rows.norm(2, -1, true).clamp_min(1e-12));
}

Quantized quantize(const at::Tensor& z, const at::Tensor& codebook) {
  Quantized out;
  {
    at::NoGradGuard no_grad;
    // ||z||² − 2 z·c + ||c||², the first term dropped: it does not change the argmin.
    const at::Tensor distances = codebook.pow(2).sum(1).unsqueeze(0) - 2 * at::matmul(z, codebook.t());
    out.indices = distances.argmin(1);
  }
  out.quantized = codebook.index_select(0, out.indices);
  out.straight_through = z + (out.quantized - z).detach();
  return out;
}

VqLossSums vq_loss_sums(const at::Tensor& z, const at::Tensor& quantized, const at::Tensor& row_mask) {
  const at::Tensor rows = row_mask.to(z.scalar_type()).unsqueeze(1);
  return {((z - quantized.detach()).pow(2) * rows).sum(), ((quantized - z.detach()).pow(2) * rows).sum()};
}

at::Tensor code_counts(const at::Tensor& indices, const at::Tensor& row_mask, int64_t codes) {
  return at::zeros({codes}, row_mask.options().dtype(at::kFloat)).index_add_(0, indices, row_mask.to(at::kFloat));
}

at::Tensor code_sums(const at::Tensor& z, const at::Tensor& indices, const at::Tensor& row_mask, int64_t codes) {
  const at::Tensor rows = z.detach().to(at::kFloat) * row_mask.to(at::kFloat).unsqueeze(1);
  return at::zeros({codes, z.size(1)}, rows.options()).index_add_(0, indices, rows);
}

EmaCodebook ema_update(const at::Tensor& count, const at::Tensor& sum, const at::Tensor& batch_counts,
                       const at::Tensor& batch_sums, double decay, double epsilon) {
  EmaCodebook out;
  out.count = count * decay + batch_counts * (1 - decay);
  out.sum = sum * decay + batch_sums * (1 - decay);
  const at::Tensor n = out.count.sum();
  const at::Tensor smoothed = (out.count + epsilon) / (n + static_cast<double>(count.size(0)) * epsilon) * n;
  out.codebook = out.sum / smoothed.unsqueeze(1);
  return out;
}

double perplexity(const at::Tensor& counts) {
  const at::Tensor total = counts.sum();
  if (total.item<double>() <= 0) return 0.0;
  const at::Tensor p = counts.to(at::kDouble) / total.to(at::kDouble);
  return at::exp(-at::where(p > 0, p * at::log(p), at::zeros_like(p)).sum()).item<double>();
}

}  // namespace nf::model
