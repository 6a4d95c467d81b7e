// A read-only open-addressing hash table from a token pair to its merge rule: the BPE encoder's
// hottest lookup, a flat array probed linearly instead of std::unordered_map's linked nodes.
#pragma once

#include <cstdint>
#include <vector>

#include "nf/data/tokenizer.h"

namespace nf::data {

struct MergeRule {
  int32_t rank = 0;
  TokenId result = 0;
};

class PairTable {
 public:
  // Adds a rule unless the pair has one already (the first, lowest rank wins). Call before any find.
  void insert(TokenId left, TokenId right, MergeRule rule);
  const MergeRule* find(TokenId left, TokenId right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (size_t at = hash(key) & mask_;; at = (at + 1) & mask_) {
      const Slot& slot = slots_[at];
      if (slot.key == key) return &slot.rule;
      if (slot.key == kEmpty) return nullptr;
    }
  }

 private:
  struct Slot {
    uint64_t key;
    MergeRule rule;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  static size_t hash(uint64_t key) { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20); }
  void grow();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace nf::data
