// Fuzz target: a safetensors file through the checks SafetensorsFile makes when it opens one:
// safetensors_header_length on its first 8 bytes, then parse_safetensors_header on the JSON header.
// It is accepted, or refused with a CheckpointError naming the file; an accepted header lists
// tensors whose byte ranges, dtype size x shape each, tile the data section exactly.
#include <cstdio>
#include <cstdlib>

#include "fuzz_support.h"
#include "nf/ckpt/safetensors_header.h"

namespace {

using namespace nf::ckpt;

void check_tiling(const SafetensorsHeader& header, uint64_t data_bytes) {
  uint64_t covered = 0;
  for (const HeaderTensor& tensor : header.tensors) {
    unsigned __int128 bytes = safetensors_dtype_bytes(tensor.dtype);
    for (const int64_t dim : tensor.shape) bytes *= static_cast<uint64_t>(dim);
    if (tensor.begin != covered || tensor.end - tensor.begin != bytes) {
      std::fprintf(stderr, "nf fuzz: tensor '%s' was accepted at [%llu, %llu) after %llu covered bytes\n",
                   tensor.name.c_str(), static_cast<unsigned long long>(tensor.begin),
                   static_cast<unsigned long long>(tensor.end), static_cast<unsigned long long>(covered));
      std::abort();
    }
    covered = tensor.end;
  }
  if (covered != data_bytes) {
    std::fprintf(stderr, "nf fuzz: the accepted tensors cover %llu of %llu data bytes\n",
                 static_cast<unsigned long long>(covered), static_cast<unsigned long long>(data_bytes));
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file = nf::fuzz::as_text(data, size);
  nf::fuzz::expect_refusals<nf::CheckpointError>([&] {
    const uint64_t length = safetensors_header_length("fuzz.safetensors", file.substr(0, 8), size);
    const SafetensorsHeader header = parse_safetensors_header("fuzz.safetensors", file.substr(8, length), size);
    check_tiling(header, size - 8 - length);
  });
  return 0;
}
