// Multi-threaded batch encoding: threads take texts from a shared counter, in small blocks so
// that a few long documents do not leave the other threads idle.
#include "nf/data/tokenizer_batch.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "nf/data/bpe_tokenizer.h"

namespace nf::data {

std::vector<std::vector<TokenId>> encode_batch(const Tokenizer& tokenizer, const std::vector<std::string_view>& texts,
                                               int threads, std::vector<BpeCache>* caches) {
  constexpr size_t kBlock = 16;
  std::vector<std::vector<TokenId>> result(texts.size());
  const size_t workers =
      std::clamp<size_t>((texts.size() + kBlock - 1) / kBlock, 1, static_cast<size_t>(std::max(threads, 1)));
  const auto* bpe = dynamic_cast<const BpeTokenizer*>(&tokenizer);
  std::vector<BpeCache> fresh;
  std::vector<BpeCache>& per_worker = caches != nullptr ? *caches : fresh;
  if (bpe && per_worker.size() < workers) per_worker.resize(workers);
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(workers);
  const auto work = [&](size_t worker) {
    try {
      for (size_t begin = next.fetch_add(kBlock); begin < texts.size(); begin = next.fetch_add(kBlock)) {
        for (size_t i = begin; i < std::min(texts.size(), begin + kBlock); ++i) {
          if (bpe) {
            bpe->encode(texts[i], per_worker[worker], result[i]);
          } else {
            result[i] = tokenizer.encode(texts[i]);
          }
        }
      }
    } catch (...) {
      errors[worker] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (size_t worker = 1; worker < workers; ++worker) pool.emplace_back(work, worker);
  work(0);
  for (std::thread& thread : pool) thread.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return result;
}

}  // namespace nf::data
