// BPE training. Words (unique pre-tokens with counts) hold their current symbols; a table of
// pair counts, an index from each pair to the words that contain it, and a lazy max-heap make
// each merge cost only the words it touches, not a recount of the corpus.
#include "nf/data/bpe_trainer.h"

#include <algorithm>
#include <atomic>
#include <queue>
#include <thread>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"

namespace nf::data {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

struct Word {
  std::vector<TokenId> symbols;
  uint64_t count = 0;
};

uint64_t pair_key(TokenId left, TokenId right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
TokenId left_of(uint64_t key) { return static_cast<TokenId>(key >> 32); }
TokenId right_of(uint64_t key) { return static_cast<TokenId>(key & 0xFFFFFFFFu); }

// The merge state: words, pair counts, pair → words index, and the heap of candidate pairs.
class MergeState {
 public:
  // `tokens` grows while merging; the heap order reads it to break ties.
  MergeState(std::vector<Word> words, const std::vector<std::string>& tokens)
      : words_(std::move(words)), queue_(Order{&tokens}) {
    for (uint32_t w = 0; w < words_.size(); ++w) {
      const Word& word = words_[w];
      for (size_t i = 0; i + 1 < word.symbols.size(); ++i)
        add(pair_key(word.symbols[i], word.symbols[i + 1]), w, word.count);
    }
    for (const auto& [key, count] : pair_counts_) queue_.push({count, key});
  }

  // The most frequent pair still present, or false when none is left.
  bool pop_best(uint64_t& key) {
    while (!queue_.empty()) {
      const Entry top = queue_.top();
      queue_.pop();
      const auto found = pair_counts_.find(top.key);
      const uint64_t current = found == pair_counts_.end() ? 0 : found->second;
      if (current == top.count && current > 0) {
        key = top.key;
        return true;
      }
      // Counts only drop without a new entry; an entry above the current count is re-queued.
      if (current > 0 && top.count > current) queue_.push({current, top.key});
    }
    return false;
  }

  // Replaces every occurrence of the pair `key` by `merged` in the words that hold it.
  void apply(uint64_t key, TokenId merged) {
    const TokenId a = left_of(key), b = right_of(key);
    std::vector<uint32_t> holders = std::move(pair_words_[key]);
    pair_words_.erase(key);
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
    std::vector<uint64_t> grown;
    for (const uint32_t w : holders) {
      std::vector<TokenId>& s = words_[w].symbols;
      const uint64_t count = words_[w].count;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != a || s[i + 1] != b) continue;
        if (i > 0) {
          remove(pair_key(s[i - 1], a), count);
          grown.push_back(add(pair_key(s[i - 1], merged), w, count));
        }
        if (i + 2 < s.size()) {
          remove(pair_key(b, s[i + 2]), count);
          grown.push_back(add(pair_key(merged, s[i + 2]), w, count));
        }
        remove(key, count);
        s[i] = merged;
        s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      }
    }
    std::sort(grown.begin(), grown.end());
    grown.erase(std::unique(grown.begin(), grown.end()), grown.end());
    for (const uint64_t pair : grown) queue_.push({pair_counts_[pair], pair});
  }

 private:
  struct Entry {
    uint64_t count;
    uint64_t key;
  };
  // Heap order: higher count first; on ties, the pair whose bytes sort first.
  struct Order {
    const std::vector<std::string>* tokens;
    bool operator()(const Entry& x, const Entry& y) const {
      if (x.count != y.count) return x.count < y.count;
      const std::string& xl = (*tokens)[left_of(x.key)];
      const std::string& yl = (*tokens)[left_of(y.key)];
      if (xl != yl) return xl > yl;
      return (*tokens)[right_of(x.key)] > (*tokens)[right_of(y.key)];
    }
  };

  uint64_t add(uint64_t key, uint32_t word, uint64_t count) {
    pair_counts_[key] += count;
    pair_words_[key].push_back(word);
    return key;
  }
  void remove(uint64_t key, uint64_t count) {
    const auto found = pair_counts_.find(key);
    found->second -= count;
    if (found->second == 0) pair_counts_.erase(found);
  }

  std::vector<Word> words_;
  std::unordered_map<uint64_t, uint64_t> pair_counts_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> pair_words_;
  std::priority_queue<Entry, std::vector<Entry>, Order> queue_;
};

// Cuts `content` into chunks of about kChunkBytes that end after a newline.
std::vector<std::string_view> chunk_at_lines(std::string_view content) {
  std::vector<std::string_view> chunks;
  size_t begin = 0;
  while (begin < content.size()) {
    size_t end = std::min(content.size(), begin + kChunkBytes);
    if (end < content.size()) {
      const size_t newline = content.find('\n', end);
      end = newline == std::string_view::npos ? content.size() : newline + 1;
    }
    chunks.push_back(content.substr(begin, end - begin));
    begin = end;
  }
  return chunks;
}

}  // namespace

void count_pieces(const std::vector<std::string_view>& texts, PreTokenizerPattern pattern, int threads,
                  PieceCounts& counts) {
  const size_t workers = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), texts.size()));
  std::vector<PieceCounts> partial(workers);
  std::atomic<size_t> next{0};
  const auto work = [&](size_t worker) {
    for (size_t t = next++; t < texts.size(); t = next++) {
      const std::string_view text = texts[t];
      for (size_t pos = 0; pos < text.size();) {
        const size_t end = next_pretoken_end(text, pos, pattern);
        ++partial[worker][std::string(text.substr(pos, end - pos))];
        pos = end;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t worker = 1; worker < workers; ++worker) pool.emplace_back(work, worker);
  work(0);
  for (std::thread& thread : pool) thread.join();
  for (PieceCounts& part : partial) {
    if (counts.empty()) {
      counts = std::move(part);
      continue;
    }
    for (auto& [piece, count] : part) counts[piece] += count;
  }
}

PieceCounts count_pieces_in_files(const std::vector<std::string>& paths, PreTokenizerPattern pattern, int threads) {
  PieceCounts counts;
  for (const std::string& path : paths) {
    const std::string content = read_file(path);
    count_pieces(chunk_at_lines(content), pattern, threads, counts);
  }
  return counts;
}

BpeTokenizer train_bpe(const PieceCounts& counts, const BpeTrainerOptions& options) {
  const int64_t base = static_cast<int64_t>(options.special_tokens.size()) + 256;
  NF_CHECK(options.vocab_size >= base, UsageError, "vocab size ", options.vocab_size,
           " is too small: ", options.special_tokens.size(), " special tokens and 256 byte tokens need at least ",
           base);
  std::vector<std::string> tokens(options.special_tokens.size());
  std::vector<SpecialToken> specials;
  for (size_t i = 0; i < options.special_tokens.size(); ++i) {
    specials.push_back({options.special_tokens[i], static_cast<TokenId>(i)});
  }
  for (int byte = 0; byte < 256; ++byte) tokens.emplace_back(1, static_cast<char>(byte));
  const TokenId first_byte = static_cast<TokenId>(options.special_tokens.size());

  // Words in sorted order, so that nothing depends on hash-map iteration order.
  std::vector<std::pair<std::string, uint64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (const auto& [piece, count] : sorted) {
    Word word{{}, count};
    for (const char byte : piece) word.symbols.push_back(first_byte + static_cast<uint8_t>(byte));
    words.push_back(std::move(word));
  }
  sorted.clear();

  std::unordered_map<std::string, TokenId> ids;
  for (size_t id = first_byte; id < tokens.size(); ++id) ids.emplace(tokens[id], static_cast<TokenId>(id));
  std::vector<std::pair<TokenId, TokenId>> merges;
  MergeState state(std::move(words), tokens);
  uint64_t key = 0;
  while (static_cast<int64_t>(tokens.size()) < options.vocab_size && state.pop_best(key)) {
    std::string bytes = tokens[left_of(key)] + tokens[right_of(key)];
    // Two merge paths can build the same bytes ("ab"+"c", "a"+"bc"): the token is shared.
    const auto [found, fresh] = ids.emplace(bytes, static_cast<TokenId>(tokens.size()));
    if (fresh) tokens.push_back(std::move(bytes));
    merges.emplace_back(left_of(key), right_of(key));
    state.apply(key, found->second);
  }
  return BpeTokenizer(std::move(tokens), std::move(merges), std::move(specials),
                      BpeOptions{options.pattern, false, false}, "trained tokenizer");
}

}  // namespace nf::data
