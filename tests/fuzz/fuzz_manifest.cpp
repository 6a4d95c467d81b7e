// Fuzz target: a dataset's manifest.json through read_manifest (JSON, then manifest_from_json's
// per-key checks). It is read, or refused with a DataError naming the file and the key; a manifest
// that is read writes back (manifest_to_json) to JSON that reads as the same manifest.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "fuzz_support.h"
#include "nf/data/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nf::fuzz::ScratchFile file("manifest.json");
  file.write(nf::fuzz::as_text(data, size));
  const std::string dataset = std::filesystem::path(file.path()).parent_path().string();
  std::optional<nf::data::Manifest> manifest;
  nf::fuzz::expect_refusals<nf::DataError>([&] { manifest = nf::data::read_manifest(dataset); });
  if (!manifest) return 0;
  nf::fuzz::expect_refusals<>([&] {
    const nlohmann::json written = nf::data::manifest_to_json(*manifest);
    if (nf::data::manifest_to_json(nf::data::manifest_from_json(written, "rewritten")) != written) {
      std::fprintf(stderr, "nf fuzz: the manifest nf writes reads back differently\n");
      std::abort();
    }
  });
  return 0;
}
