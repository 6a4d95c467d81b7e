// Comparison helpers for the tensor-parallel tests: fp32 results against an unsharded reference
// computed on every rank, within 1e-5 relative (absolute 1e-5 of the reference's largest
// magnitude, so that near-zero elements do not need an impossible relative match).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

namespace nf::test {

inline ::testing::AssertionResult close_to(const torch::Tensor& actual, const torch::Tensor& expected,
                                           double rtol = 1e-5) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != " << expected.sizes();
  }
  const torch::Tensor a = actual.detach().to(torch::kDouble), e = expected.detach().to(torch::kDouble);
  const double scale = std::max(e.abs().max().item<double>(), 1e-30);
  const double error = (a - e).abs().max().item<double>();
  if (torch::allclose(a, e, rtol, rtol * scale)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max |difference| " << error << " (reference max |value| " << scale << ")";
}

}  // namespace nf::test
