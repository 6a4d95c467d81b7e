// PairTable: insertion and growth (kept at most half full, so probes stay short).
#include "nf/data/pair_table.h"

namespace nf::data {

void PairTable::insert(TokenId left, TokenId right, MergeRule rule) {
  if (2 * (size_ + 1) > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  for (size_t at = hash(key) & mask_;; at = (at + 1) & mask_) {
    Slot& slot = slots_[at];
    if (slot.key == key) return;
    if (slot.key == kEmpty) {
      slot = {key, rule};
      ++size_;
      return;
    }
  }
}

void PairTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : 2 * old.size(), Slot{kEmpty, {}});
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (const Slot& slot : old) {
    if (slot.key != kEmpty)
      insert(static_cast<TokenId>(slot.key >> 32), static_cast<TokenId>(slot.key & 0xFFFFFFFFu), slot.rule);
  }
}

}  // namespace nf::data
