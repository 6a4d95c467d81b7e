// A safetensors file (safetensors.h) written tensor by tensor, for files whose tensors are never
// all in memory at once (a checkpoint consolidated while it is gathered): the header is written
// first from the declared names, dtypes and shapes, then each tensor's data, in declared order.
// write_safetensors is this writer over tensors already in memory.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nf/ckpt/safetensors.h"
#include "nf/core/atomic_file.h"

namespace nf::ckpt {

struct TensorDeclaration {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
};

class SafetensorsStreamWriter {
 public:
  // Writes the header to a temporary sibling of `path`. CheckpointError for a duplicate, empty or
  // reserved name or a dtype without a safetensors name; IoError when the file cannot be written.
  SafetensorsStreamWriter(const std::string& path, const std::vector<TensorDeclaration>& tensors,
                          const Metadata& metadata = {});
  // The data of the next declared tensor: a CPU tensor of its name, dtype and shape, else a
  // CheckpointError naming what was expected.
  void append(const std::string& name, const torch::Tensor& tensor);
  // After the last tensor: fsyncs the file and renames it to `path` (CheckpointError before).
  void commit();

 private:
  std::string path_;
  std::vector<TensorDeclaration> tensors_;
  size_t next_ = 0;
  AtomicFileWriter file_;
};

}  // namespace nf::ckpt
