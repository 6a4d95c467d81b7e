// The BPE encoder's cache of pieces already encoded, one per encoding thread, kept across a
// build's batches: most words of a corpus repeat, so most pieces are a lookup, not a merge. A flat
// open-addressing table over two arenas (piece bytes, ids): a lookup hashes the piece in place,
// allocates nothing and touches one or two cache lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nf/data/tokenizer.h"

namespace nf::data {

// Bounded: cleared when it holds `max_entries` pieces. Pieces longer than kMaxPiece bytes are not
// kept: they rarely repeat (a CJK line is one piece), and would only churn the table.
class BpeCache {
 public:
  static constexpr size_t kMaxPiece = 32;
  explicit BpeCache(size_t max_entries = size_t{1} << 16);

  // The ids of a cached piece: [begin, end), empty when the piece is not cached.
  struct Ids {
    const TokenId* begin = nullptr;
    const TokenId* end = nullptr;
    explicit operator bool() const { return begin != nullptr; }
  };
  Ids find(std::string_view piece) const;
  void insert(std::string_view piece, const std::vector<TokenId>& ids);
  size_t size() const { return size_; }

  // Buffers of the merge in progress, reused from piece to piece to avoid allocations.
  std::vector<TokenId> parts;
  std::vector<int32_t> ranks;

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key = 0;  // offset in keys_
    uint32_t ids = 0;  // offset in ids_
    uint8_t key_length = 0;
    uint8_t id_count = 0;  // 0 = empty slot (a piece has at least one id)
  };
  size_t slot_of(std::string_view piece, uint64_t hash) const;
  void grow();
  void clear();

  size_t max_entries_;
  size_t mask_;
  size_t size_ = 0;
  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<TokenId> ids_;
};

}  // namespace nf::data
