// Per-chunk CRC-32C checksums of a shard's arrays (docs/data-format.md, "Chunk checksums").
// nf-shard build stores one CRC-32C per `chunk_bytes` bytes of each array as it lies in the file
// (little-endian); the manifest records a digest of those tables, which ties each shard to its
// build. A reader checks each chunk the first time it touches it, so damage is found as data is
// read, before a corrupted sample reaches the trainer, at the cost of one CRC pass per chunk.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nf::data {

// One CRC-32C per `chunk_bytes` bytes of data[0, bytes); the last chunk may be shorter.
std::vector<uint32_t> chunk_crc32c(const void* data, uint64_t bytes, uint64_t chunk_bytes);

// The manifest's digest of a shard's tables: CRC-32C over chunk_bytes (8 bytes) and the tables
// in the order given, as 8 hex digits.
std::string chunk_table_digest(uint64_t chunk_bytes, const std::vector<const std::vector<uint32_t>*>& tables);

// Checks the chunks of one array against its table, each chunk once. Thread-safe: the loader's
// prefetch thread and other readers may check the same shard at once (a chunk checked twice by a
// race is harmless). Default-constructed, it checks nothing (a shard without checksums).
class ChunkVerifier {
 public:
  ChunkVerifier() = default;
  static constexpr uint64_t kUnknownOffset = ~uint64_t{0};
  // `array` names it in messages ("/tokens"); `file_offset` is where it starts in the file, for
  // the message (kUnknownOffset when the array was not read from one contiguous range).
  ChunkVerifier(std::string array, std::vector<uint32_t> table, uint64_t chunk_bytes, uint64_t array_bytes,
                uint64_t file_offset);

  bool enabled() const { return !table_.empty(); }
  const std::vector<uint32_t>& table() const { return table_; }
  // Checks every chunk overlapping bytes [begin, end) of the array at `data` not checked before.
  // Throws DataError naming `path`, the array, the chunk's byte range and the fix.
  void verify(const uint8_t* data, uint64_t begin, uint64_t end, const std::string& path) const;
  void verify_all(const uint8_t* data, const std::string& path) const { verify(data, 0, array_bytes_, path); }

 private:
  std::string array_;
  std::vector<uint32_t> table_;
  uint64_t chunk_bytes_ = 0;
  uint64_t array_bytes_ = 0;
  uint64_t file_offset_ = 0;
  std::unique_ptr<std::atomic<bool>[]> checked_;
};

}  // namespace nf::data
