// A safetensors file (safetensors.h) written tensor by tensor, for files whose tensors are never
// all in memory at once (a checkpoint consolidated while it is gathered): the header is written
// first from the declared names, dtypes and shapes, then each tensor's data, in declared order.
// write_safetensors is this writer over tensors already in memory. The file's SHA-256 is computed
// from the bytes as they are written, so a checksummed save reads nothing back.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nf/ckpt/safetensors.h"
#include "nf/core/atomic_file.h"
#include "nf/core/hash.h"

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
  // After the last tensor: fsyncs the file, renames it to `path` (CheckpointError before) and
  // returns its SHA-256 (64 lowercase hex characters).
  std::string commit();

 private:
  std::string path_;
  std::vector<TensorDeclaration> tensors_;
  size_t next_ = 0;
  AtomicFileWriter file_;
  Sha256 hash_;

  void write(const void* data, size_t size);
};

}  // namespace nf::ckpt
