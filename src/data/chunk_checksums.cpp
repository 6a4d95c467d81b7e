// Per-chunk CRC-32C tables, their manifest digest, and the first-touch verifier.
#include "nf/data/chunk_checksums.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "nf/core/crc32c.h"
#include "nf/core/error.h"

namespace nf::data {

std::vector<uint32_t> chunk_crc32c(const void* data, uint64_t bytes, uint64_t chunk_bytes) {
  NF_CHECK(chunk_bytes > 0, UsageError, "chunk_crc32c: chunk_bytes must be positive");
  const auto* base = static_cast<const uint8_t*>(data);
  std::vector<uint32_t> table;
  table.reserve((bytes + chunk_bytes - 1) / chunk_bytes);
  for (uint64_t begin = 0; begin < bytes; begin += chunk_bytes) {
    table.push_back(crc32c(base + begin, std::min(chunk_bytes, bytes - begin)));
  }
  return table;
}

std::string chunk_table_digest(uint64_t chunk_bytes, const std::vector<const std::vector<uint32_t>*>& tables) {
  std::vector<uint8_t> bytes(sizeof(chunk_bytes));
  std::memcpy(bytes.data(), &chunk_bytes, sizeof(chunk_bytes));
  for (const std::vector<uint32_t>* table : tables) {
    const auto* begin = reinterpret_cast<const uint8_t*>(table->data());
    bytes.insert(bytes.end(), begin, begin + table->size() * sizeof(uint32_t));
  }
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", crc32c(bytes.data(), bytes.size()));
  return hex;
}

ChunkVerifier::ChunkVerifier(std::string array, std::vector<uint32_t> table, uint64_t chunk_bytes, uint64_t array_bytes,
                             uint64_t file_offset)
    : array_(std::move(array)),
      table_(std::move(table)),
      chunk_bytes_(chunk_bytes),
      array_bytes_(array_bytes),
      file_offset_(file_offset),
      checked_(std::make_unique<std::atomic<bool>[]>(table_.size())) {
  NF_CHECK(chunk_bytes_ > 0 && table_.size() == (array_bytes_ + chunk_bytes_ - 1) / chunk_bytes_, Error,
           "ChunkVerifier: a table of ", table_.size(), " chunks of ", chunk_bytes_, " bytes does not cover ",
           array_bytes_, " bytes of ", array_);
}

void ChunkVerifier::verify(const uint8_t* data, uint64_t begin, uint64_t end, const std::string& path) const {
  if (!enabled() || begin >= end) return;
  for (uint64_t chunk = begin / chunk_bytes_; chunk * chunk_bytes_ < end; ++chunk) {
    if (checked_[chunk].load(std::memory_order_acquire)) continue;
    const uint64_t first = chunk * chunk_bytes_;
    const uint64_t last = std::min(first + chunk_bytes_, array_bytes_);
    const uint32_t actual = crc32c(data + first, last - first);
    if (actual != table_[chunk]) {
      char crcs[40];
      std::snprintf(crcs, sizeof(crcs), "crc32c %08x, recorded %08x", actual, table_[chunk]);
      const std::string in_file =
          file_offset_ == kUnknownOffset
              ? std::string()
              : ", file bytes " + std::to_string(file_offset_ + first) + "-" + std::to_string(file_offset_ + last - 1);
      throw DataError("shard '" + path + "' is damaged: " + array_ + " chunk " + std::to_string(chunk) + " (bytes " +
                          std::to_string(first) + "-" + std::to_string(last - 1) + " of the array" + in_file +
                          ") has " + crcs,
                      "the file changed after nf-shard build wrote it (a bad disk or an incomplete copy): run "
                      "nf-shard verify on the dataset, then recopy this shard or re-run nf-shard build");
    }
    checked_[chunk].store(true, std::memory_order_release);
  }
}

}  // namespace nf::data
