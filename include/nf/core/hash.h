// Checksums and fingerprints: SHA-256 (OpenSSL) for file checksums and tokenizer fingerprints.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace nf {

// Incremental SHA-256; hex_digest() returns 64 lowercase hex characters.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  std::string hex_digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view data);
// SHA-256 of a whole file, streamed; throws IoError naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace nf
