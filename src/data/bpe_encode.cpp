// BPE encoding: pre-tokenize, then merge each piece's bytes by rank (lowest rank first, leftmost
// on ties, as Hugging Face and GPT-2's encoder.py do), with a cache of pieces already seen.
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include <climits>
#include <queue>

#include "nf/core/error.h"
#include "nf/data/bpe_tokenizer.h"

namespace nf::data {
namespace {

// Pieces up to this many bytes merge with a quadratic scan (fast for short words); longer ones
// (long numbers, CJK runs, white space) with a heap over a linked list, O(n log n).
constexpr size_t kShortPiece = 64;

// The NFC form of `text` in `storage`, or `text` itself when it is already NFC (the common case).
std::string_view normalize_nfc(std::string_view text, std::string& storage) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  const icu::StringPiece input(text.data(), static_cast<int32_t>(text.size()));
  if (U_SUCCESS(status) && nfc->isNormalizedUTF8(input, status)) return text;
  status = U_ZERO_ERROR;
  storage.clear();
  icu::StringByteSink<std::string> sink(&storage);
  nfc->normalizeUTF8(0, input, sink, nullptr, status);
  NF_CHECK(U_SUCCESS(status), DataError, "ICU could not NFC-normalize a text: ", u_errorName(status));
  return storage;
}

}  // namespace

std::vector<TokenId> BpeTokenizer::encode(std::string_view text) const {
  BpeCache cache;
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3);
  encode(text, cache, ids);
  return ids;
}

void BpeTokenizer::encode(std::string_view text, BpeCache& cache, std::vector<TokenId>& out) const {
  std::string normalized;
  if (options_.nfc) text = normalize_nfc(text, normalized);
  std::string prefixed;
  if (options_.add_prefix_space && !text.empty() && text[0] != ' ') {
    prefixed = " " + std::string(text);
    text = prefixed;
  }
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = next_pretoken_end(text, pos, options_.pattern);
    encode_piece(text.substr(pos, end - pos), cache, out);
    pos = end;
  }
}

void BpeTokenizer::encode_piece(std::string_view piece, BpeCache& cache, std::vector<TokenId>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_ids_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  if (options_.ignore_merges) {
    const auto whole = ids_.find(std::string(piece));
    if (whole != ids_.end()) {
      out.push_back(whole->second);
      return;
    }
  }
  if (const BpeCache::Ids cached = cache.find(piece)) {
    out.insert(out.end(), cached.begin, cached.end);
    return;
  }
  if (piece.size() <= kShortPiece) {
    merge_short(piece, cache);
  } else {
    merge_long(piece, cache.parts);
  }
  out.insert(out.end(), cache.parts.begin(), cache.parts.end());
  cache.insert(piece, cache.parts);
}

void BpeTokenizer::merge_short(std::string_view piece, BpeCache& scratch) const {
  std::vector<TokenId>& parts = scratch.parts;
  parts.clear();
  for (const char byte : piece) parts.push_back(byte_ids_[static_cast<uint8_t>(byte)]);
  // ranks[i]: the rank of merging parts[i] with parts[i + 1], INT_MAX when there is no such merge.
  std::vector<int32_t>& ranks = scratch.ranks;
  ranks.resize(parts.size() - 1);
  const auto rank_at = [&](size_t i) {
    const MergeRule* rule = find_merge(parts[i], parts[i + 1]);
    return rule ? rule->rank : INT_MAX;
  };
  for (size_t i = 0; i + 1 < parts.size(); ++i) ranks[i] = rank_at(i);
  while (parts.size() > 1) {
    size_t best = 0;
    for (size_t i = 1; i < ranks.size(); ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == INT_MAX) break;
    parts[best] = find_merge(parts[best], parts[best + 1])->result;
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    ranks.erase(ranks.begin() + static_cast<std::ptrdiff_t>(best));
    if (best + 1 < parts.size()) ranks[best] = rank_at(best);
    if (best > 0) ranks[best - 1] = rank_at(best - 1);
  }
}

void BpeTokenizer::merge_long(std::string_view piece, std::vector<TokenId>& parts) const {
  struct Symbol {
    TokenId id;
    int prev;
    int next;  // -1 at the ends
  };
  struct Candidate {
    int32_t rank;
    int left;  // position of the left symbol
    TokenId left_id;
    TokenId right_id;
    bool operator>(const Candidate& other) const { return rank != other.rank ? rank > other.rank : left > other.left; }
  };
  const int size = static_cast<int>(piece.size());
  std::vector<Symbol> symbols(size);
  for (int i = 0; i < size; ++i)
    symbols[i] = {byte_ids_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < size ? i + 1 : -1};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push = [&](int left) {
    if (left < 0 || symbols[left].next < 0) return;
    const Symbol& right = symbols[symbols[left].next];
    if (const MergeRule* rule = find_merge(symbols[left].id, right.id)) {
      queue.push({rule->rank, left, symbols[left].id, right.id});
    }
  };
  for (int i = 0; i + 1 < size; ++i) push(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    // Stale when either symbol changed since the candidate was queued (merged ones get id -1).
    if (left.id != top.left_id || left.next < 0 || symbols[left.next].id != top.right_id) continue;
    Symbol& right = symbols[left.next];
    left.id = find_merge(top.left_id, top.right_id)->result;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    push(left.prev);
    push(top.left);
  }
  parts.clear();
  for (int i = 0; i >= 0; i = symbols[i].next) parts.push_back(symbols[i].id);
}

}  // namespace nf::data
