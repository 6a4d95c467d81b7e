// Vector quantization of paragraph latents against a codebook (VQ-VAE, van den Oord et al. 2017),
// with the codebook trained either by its loss or by exponential moving averages (the guide's FAQ
// fix for a collapsing codebook; Sonnet's VectorQuantizerEMA), plus the statistics the trainer
// logs. Pure functions of tensors: the NeuralFlow objectives (src/train/paragraph_*.cpp) reduce
// the per-rank sums over data parallelism themselves.
#pragma once

#include <ATen/Tensor.h>

namespace nf::model {

// Each row of rows [N, D] scaled to norm √D (unit RMS). On that sphere the nearest code is the most
// cosine-similar one, and no code is nearest to many latents merely by lying near their mean, the
// imbalance that leaves most of a euclidean codebook unused (model.cosine_codebook).
at::Tensor on_sphere(const at::Tensor& rows);

struct Quantized {
  at::Tensor indices;           // [N] int64: the nearest code of each row (squared euclidean distance)
  at::Tensor quantized;         // [N, D]: codebook[indices] (its gradient reaches the codebook)
  at::Tensor straight_through;  // [N, D]: z + (quantized - z).detach(): quantized forward, identity backward
};
// z [N, D], codebook [K, D].
Quantized quantize(const at::Tensor& z, const at::Tensor& codebook);

// The two VQ terms as sums over the rows `row_mask` [N] (0/1) counts: commitment
// Σ (z - sg(quantized))² (trains the encoder towards its code) and codebook Σ (quantized - sg(z))²
// (trains the code towards the encoder). Divide by the global count of rows × D for the means.
struct VqLossSums {
  at::Tensor commit;
  at::Tensor codebook;
};
VqLossSums vq_loss_sums(const at::Tensor& z, const at::Tensor& quantized, const at::Tensor& row_mask);

// This batch's use of each code: counts [K] (rows per code) and sums [K, D] (Σ z of its rows),
// over the rows `row_mask` counts. Summed over dp ranks they are the global batch's.
at::Tensor code_counts(const at::Tensor& indices, const at::Tensor& row_mask, int64_t codes);
at::Tensor code_sums(const at::Tensor& z, const at::Tensor& indices, const at::Tensor& row_mask, int64_t codes);

// The EMA codebook step: count ← decay·count + (1−decay)·batch_counts, sum likewise, and each code
// the mean of its rows, sum_k / smoothed_k, with Laplace smoothing of the counts
// (smoothed_k = (count_k + ε) / (n + K·ε) · n, n = Σ count) so an unused code never divides by 0.
struct EmaCodebook {
  at::Tensor count, sum, codebook;
};
EmaCodebook ema_update(const at::Tensor& count, const at::Tensor& sum, const at::Tensor& batch_counts,
                       const at::Tensor& batch_sums, double decay, double epsilon);

// exp(entropy) of the codes' use: how many codes a batch uses effectively (K when uniform, 1 when
// collapsed). `counts` [K]; 0 when nothing was counted.
double perplexity(const at::Tensor& counts);

}  // namespace nf::model
