// bench-reader: throughput of the dataset reader against a plain memcpy of the same bytes.
// Builds one ~256 MiB shard of real text (the KJV bible, bytes as token ids, repeated), then
// times random 2 KiB windows (memcpy from RAM, the mmapped reader, H5Dread of a hyperslab) and
// random packed seq_len samples (make_batch, also from a fresh open with and without the
// per-chunk checksum checks), and prints one table (docs/benchmarks.md); --jsonl FILE also appends
// its rows to FILE, one JSON object each.
#include <hdf5.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "nf/core/crc32c.h"
#include "nf/core/error.h"
#include "nf/data/data_loader.h"
#include "nf/data/shard_writer.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string bible_text() {
  FILE* pipe = ::popen("bible -f 'Gen1:1-Rev22:21' 2>/dev/null", "r");
  std::string text;
  char buffer[1 << 16];
  size_t got = 0;
  while (pipe != nullptr && (got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, got);
  if (pipe != nullptr) ::pclose(pipe);
  if (text.empty()) throw std::runtime_error("`bible` printed nothing: install bible-kjv (scripts/setup.sh)");
  return text;
}

// Writes DIR/train-00000.h5 + manifest.json holding `tokens` tokens; returns the token stream.
std::vector<uint16_t> build_dataset(const std::string& dir, uint64_t tokens) {
  const std::string text = bible_text();
  std::vector<uint16_t> stream;
  stream.reserve(tokens);
  nf::data::ShardWriter writer({dir, "train", "", nf::data::DatasetFormat::kPretrain, 260, "bench", ~uint64_t{0}});
  nf::data::EncodedDocument doc;
  size_t line_start = 0;
  while (stream.size() < tokens) {
    const size_t line_end = text.find('\n', line_start);
    doc.tokens.assign(text.begin() + static_cast<std::ptrdiff_t>(line_start),
                      text.begin() + static_cast<std::ptrdiff_t>(line_end));
    doc.tokens.push_back(256);
    stream.insert(stream.end(), doc.tokens.begin(), doc.tokens.end());
    writer.add(doc);
    line_start = line_end + 1 < text.size() ? line_end + 1 : 0;
  }
  nf::data::Manifest manifest;
  manifest.tokenizer = {"bpe", "tokenizer.json", "bench", 260};
  manifest.splits["train"].shards = writer.close();
  nf::data::write_manifest(dir, manifest);
  return stream;
}

// The two baselines, each a row of the table that later rows are compared with.
constexpr const char* kWindowsBaseline = "memcpy, random 2 KiB windows (baseline)";
constexpr const char* kSamplesBaseline = "memcpy, random seq_len+1 samples (baseline)";

// The table, printed row by row; with a --jsonl file open, every row is also appended to it as
// {"method", "ops_per_s", "gb_per_s", "vs_memcpy" (the baseline's time over this row's, for the same
// bytes; 1 for a baseline), "baseline" (the method of the memcpy row compared with)}.
class Table {
 public:
  explicit Table(std::ofstream& jsonl) : jsonl_(jsonl) {
    std::printf("| %-46s | %10s | %8s | %9s |\n", "method", "ops/s", "GB/s", "vs memcpy");
    std::printf("|%s|%s|%s|%s|\n", std::string(48, '-').c_str(), std::string(12, '-').c_str(),
                std::string(10, '-').c_str(), std::string(11, '-').c_str());
  }

  // `ops` operations of `bytes_per_op` each took `seconds`; `baseline_seconds` is the baseline's
  // time scaled to the same bytes.
  void row(const char* method, uint64_t ops, uint64_t bytes_per_op, double seconds, const char* baseline,
           double baseline_seconds) {
    const double ops_per_s = static_cast<double>(ops) / seconds;
    const double gb_per_s = static_cast<double>(ops * bytes_per_op) / seconds / 1e9;
    const double vs_memcpy = baseline_seconds / seconds;
    std::printf("| %-46s | %10.0f | %8.2f | %8.0f%% |\n", method, ops_per_s, gb_per_s, 100.0 * vs_memcpy);
    if (!jsonl_.is_open()) return;
    const nlohmann::ordered_json record = {{"method", method},
                                           {"ops_per_s", ops_per_s},
                                           {"gb_per_s", gb_per_s},
                                           {"vs_memcpy", vs_memcpy},
                                           {"baseline", baseline}};
    jsonl_ << record.dump() << '\n' << std::flush;
  }

 private:
  std::ofstream& jsonl_;
};

// Best of `repeats` timings of `body`, in seconds.
double best_seconds(int repeats, const std::function<void()>& body) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-reader: dataset reader throughput against memcpy"};
  std::string dir = (std::filesystem::temp_directory_path() / "nf-bench-reader").string();
  uint64_t megabytes = 256;
  uint64_t window_bytes = 2048;
  int64_t seq_len = 1024;
  uint64_t windows = 200000;
  app.add_option("--dir", dir, "where the benchmark dataset is built (reused if present)")->capture_default_str();
  app.add_option("--megabytes", megabytes, "size of the token array in MiB")->capture_default_str();
  app.add_option("--window-bytes", window_bytes, "bytes per random window")->capture_default_str();
  app.add_option("--seq-len", seq_len, "seq_len of the packed samples")->capture_default_str();
  app.add_option("--windows", windows, "random windows per timing")->capture_default_str();
  double epochs = 0;
  app.add_option("--epochs", epochs, "read this many epochs of packed samples (default: as many bytes as the windows)");
  std::string jsonl_path;
  app.add_option("--jsonl", jsonl_path, "also append every table row to this file as one JSON object");
  CLI11_PARSE(app, argc, argv);
  std::ofstream jsonl;  // opened before the minutes of timing, so a bad path fails at once
  if (!jsonl_path.empty()) {
    jsonl.open(jsonl_path, std::ios::app);
    if (!jsonl) {
      std::fprintf(stderr,
                   "bench-reader: --jsonl: cannot open '%s' for appending\n  hint: give a file in a directory that "
                   "exists and that this user may write\n",
                   jsonl_path.c_str());
      return static_cast<int>(nf::ExitCode::kIo);
    }
  }

  const uint64_t tokens = (megabytes << 20) / 2;
  std::filesystem::remove_all(dir);
  const auto build_start = Clock::now();
  const std::vector<uint16_t> stream = build_dataset(dir, tokens);
  const double build_seconds = std::chrono::duration<double>(Clock::now() - build_start).count();
  const nf::data::TokenDataset dataset(dir);
  const std::string shard = dir + "/" + dataset.manifest().splits.at("train").shards.at(0).file;

  const uint64_t window = window_bytes / 2;  // tokens per window (uint16)
  std::mt19937_64 random(1);
  std::vector<uint64_t> starts(windows);
  for (uint64_t& start : starts) start = random() % (dataset.num_tokens() - window);
  std::vector<uint16_t> raw(window);
  std::vector<nf::data::TokenId> ids(window);
  uint64_t sink = 0;

  const double memcpy_s = best_seconds(3, [&] {
    for (uint64_t start : starts) {
      std::memcpy(raw.data(), stream.data() + start, window * 2);
      sink += raw[window / 2];
    }
  });
  const double reader_s = best_seconds(3, [&] {
    for (uint64_t start : starts) {
      dataset.copy_tokens(start, window, ids.data());
      sink += static_cast<uint64_t>(ids[window / 2]);
    }
  });
  const uint64_t h5_windows = std::min<uint64_t>(windows, 20000);
  const double h5read_s = best_seconds(3, [&] {
    const hid_t file = H5Fopen(shard.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t data = H5Dopen2(file, "tokens", H5P_DEFAULT);
    const hid_t space = H5Dget_space(data);
    const hsize_t count = window;
    const hid_t memory = H5Screate_simple(1, &count, nullptr);
    for (uint64_t i = 0; i < h5_windows; ++i) {
      const hsize_t start = starts[i];
      H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
      H5Dread(data, H5T_NATIVE_UINT16, memory, space, H5P_DEFAULT, raw.data());
      sink += raw[window / 2];
    }
    H5Sclose(memory);
    H5Sclose(space);
    H5Dclose(data);
    H5Fclose(file);
  });

  // Packed samples: one global batch of `batch` random samples per make_batch call.
  nf::data::LoaderOptions options;
  options.seq_len = seq_len;
  options.global_batch_size = 64;
  const uint64_t sample_bytes = static_cast<uint64_t>(seq_len + 1) * 2;
  const uint64_t per_epoch = nf::data::samples_per_epoch(dataset, options);
  const uint64_t batches = std::max<uint64_t>(
      1, epochs > 0 ? static_cast<uint64_t>(epochs * per_epoch / 64) : windows * window_bytes / sample_bytes / 64);
  const double batch_s = best_seconds(3, [&] {
    for (uint64_t b = 0; b < batches; ++b) sink += make_batch(dataset, options, b * 64).inputs[0];
  });
  // The same batches from a freshly opened dataset, with and without the per-chunk CRC-32C
  // checks, so that every chunk is checked once inside the timing (its first-epoch cost).
  auto fresh_epoch = [&](bool verify) {
    return [&, verify] {
      nf::data::TokenDatasetOptions open;
      open.verify_chunks = verify;
      const nf::data::TokenDataset fresh(dir, open);
      for (uint64_t b = 0; b < batches; ++b) sink += make_batch(fresh, options, b * 64).inputs[0];
    };
  };
  double unchecked_s = 1e30, checked_s = 1e30;
  for (int r = 0; r < 3; ++r) {  // interleaved, so both see the same machine
    unchecked_s = std::min(unchecked_s, best_seconds(1, fresh_epoch(false)));
    checked_s = std::min(checked_s, best_seconds(1, fresh_epoch(true)));
  }
  const double crc_s = best_seconds(3, [&] { sink += nf::crc32c(stream.data(), stream.size() * 2); });
  std::vector<uint16_t> sample(seq_len + 1);
  const double sample_memcpy_s = best_seconds(3, [&] {
    for (uint64_t b = 0; b < batches * 64; ++b) {
      const uint64_t index = nf::data::sample_at(b, per_epoch, options.seed);
      std::memcpy(sample.data(), stream.data() + index * seq_len, sample_bytes);
      sink += sample[1];
    }
  });

  std::printf("shard: %llu tokens (uint16, %.0f MiB), built in %.1f s; windows of %llu bytes; seq_len %lld\n\n",
              static_cast<unsigned long long>(dataset.num_tokens()), dataset.num_tokens() * 2.0 / (1 << 20),
              build_seconds, static_cast<unsigned long long>(window_bytes), static_cast<long long>(seq_len));
  Table table(jsonl);
  table.row(kWindowsBaseline, windows, window_bytes, memcpy_s, kWindowsBaseline, memcpy_s);
  table.row("reader copy_tokens (mmap, uint16 -> int32)", windows, window_bytes, reader_s, kWindowsBaseline, memcpy_s);
  table.row("H5Dread hyperslab, random windows", h5_windows, window_bytes, h5read_s, kWindowsBaseline,
            memcpy_s * h5_windows / windows);
  table.row("crc32c over the whole token array (one pass)", 1, stream.size() * 2, crc_s, kWindowsBaseline,
            memcpy_s * stream.size() * 2 / (windows * window_bytes));
  table.row(kSamplesBaseline, batches * 64, sample_bytes, sample_memcpy_s, kSamplesBaseline, sample_memcpy_s);
  table.row("make_batch (inputs, targets, mask), per sample", batches * 64, sample_bytes, batch_s, kSamplesBaseline,
            sample_memcpy_s);
  table.row("make_batch, fresh open, chunk checks off", batches * 64, sample_bytes, unchecked_s, kSamplesBaseline,
            sample_memcpy_s);
  table.row("make_batch, fresh open, chunk checks on", batches * 64, sample_bytes, checked_s, kSamplesBaseline,
            sample_memcpy_s);
  std::printf(
      "\nchunk checks (every chunk's CRC-32C once, over %.2f epochs of samples): %.1f%% of the loader's "
      "throughput without\n",
      static_cast<double>(batches * 64) / static_cast<double>(per_epoch), 100.0 * unchecked_s / checked_s);
  std::printf("\n(checksum %llu)\n", static_cast<unsigned long long>(sink));
  std::filesystem::remove_all(dir);
  if (jsonl.is_open() && !jsonl) {
    std::fprintf(stderr, "bench-reader: --jsonl: writing '%s' failed\n  hint: check the disk and the path\n",
                 jsonl_path.c_str());
    return static_cast<int>(nf::ExitCode::kIo);
  }
  return 0;
}
