// What a model calls around each unit of its parameters while it runs, so that ZeRO-3 (zero3.h)
// can gather a unit's parameters just before they are used and free them right after. The
// model's units are its decoder layers, its embedding and its head (model::unit_of).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace nf::parallel::dp {

class UnitHooks {
 public:
  virtual ~UnitHooks() = default;
  // Right before the unit's forward; its parameters are readable when this returns.
  virtual void before_forward(const std::string& unit) = 0;
  // Right after it, with what it returned: the unit's backward begins when `output`'s gradient
  // arrives.
  virtual void after_forward(const std::string& unit, const at::Tensor& output) = 0;
};

}  // namespace nf::parallel::dp
