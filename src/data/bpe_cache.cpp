// The piece cache: linear probing in a power-of-two table at most half full (it starts at 16
// slots and doubles, so a cache for one short text costs nothing), a multiply-xorshift hash over
// the piece's 8-byte words.
#include "nf/data/bpe_cache.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace nf::data {
namespace {

uint64_t hash_piece(std::string_view piece) {
  uint64_t hash = 0x9E3779B97F4A7C15ull ^ piece.size();
  const char* bytes = piece.data();
  size_t left = piece.size();
  for (; left >= 8; bytes += 8, left -= 8) {
    uint64_t word;
    std::memcpy(&word, bytes, 8);
    hash = (hash ^ word) * 0xBF58476D1CE4E5B9ull;
    hash ^= hash >> 31;
  }
  if (left > 0) {
    uint64_t word = 0;
    std::memcpy(&word, bytes, left);
    hash = (hash ^ word) * 0x94D049BB133111EBull;
    hash ^= hash >> 29;
  }
  return hash;
}

}  // namespace

BpeCache::BpeCache(size_t max_entries) : max_entries_(max_entries), mask_(15), slots_(mask_ + 1) {}

void BpeCache::grow() {
  const std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(2 * slots_.size()));
  mask_ = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.id_count == 0) continue;
    size_t at = slot.hash & mask_;
    while (slots_[at].id_count != 0) at = (at + 1) & mask_;
    slots_[at] = slot;
  }
}

size_t BpeCache::slot_of(std::string_view piece, uint64_t hash) const {
  for (size_t at = hash & mask_;; at = (at + 1) & mask_) {
    const Slot& slot = slots_[at];
    if (slot.id_count == 0) return at;
    if (slot.hash == hash && slot.key_length == piece.size() &&
        std::memcmp(keys_.data() + slot.key, piece.data(), piece.size()) == 0) {
      return at;
    }
  }
}

BpeCache::Ids BpeCache::find(std::string_view piece) const {
  if (piece.size() > kMaxPiece) return {};
  const Slot& slot = slots_[slot_of(piece, hash_piece(piece))];
  if (slot.id_count == 0) return {};
  const TokenId* ids = ids_.data() + slot.ids;
  return {ids, ids + slot.id_count};
}

void BpeCache::insert(std::string_view piece, const std::vector<TokenId>& ids) {
  if (piece.size() > kMaxPiece || ids.empty()) return;
  if (size_ >= max_entries_) clear();
  if (2 * (size_ + 1) > slots_.size()) grow();  // at most half full
  const uint64_t hash = hash_piece(piece);
  Slot& slot = slots_[slot_of(piece, hash)];
  if (slot.id_count != 0) return;  // already cached
  slot = {hash, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(ids_.size()),
          static_cast<uint8_t>(piece.size()), static_cast<uint8_t>(ids.size())};
  keys_.append(piece);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++size_;
}

void BpeCache::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot());
  keys_.clear();
  ids_.clear();
  size_ = 0;
}

}  // namespace nf::data
