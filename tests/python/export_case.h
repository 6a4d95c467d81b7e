// What the Python reference tests' exporters (reference_export.cpp, latent_export.cpp) share: a
// case is <name>.pt, a dict of tensors (torch::pickle_save, read by Python's torch.load), and
// <name>.json, its settings.
#pragma once

#include <torch/serialize.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace nf_reference {

using Dict = c10::Dict<std::string, at::Tensor>;

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void write_case(const std::string& dir, const std::string& name, const Dict& tensors,
                       const nlohmann::json& info) {
  const std::vector<char> bytes = torch::pickle_save(tensors);
  write_file(dir + "/" + name + ".pt", std::string(bytes.begin(), bytes.end()));
  write_file(dir + "/" + name + ".json", info.dump(2));
}

}  // namespace nf_reference
