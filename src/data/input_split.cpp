// Byte-balanced, order-preserving split of the inputs into shares, cutting plain files at line
// or paragraph starts found by one sequential scan.
#include "nf/data/input_split.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "nf/core/error.h"

namespace nf::data {
namespace {

struct Cut {
  int64_t offset;  // a line start
  int64_t line;    // its line number
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Finds, for each target offset (ascending, inside the file), the first line start at or after
// it; with `after_blank`, only line starts that follow a blank line count, as paragraphs need.
// Bytes well before a target are only counted for newlines (std::count); near it they are read
// one by one. The state of a line that began in the counted part is unknown, so it is taken as
// not blank: the cut may move to a later paragraph, never into one.
std::vector<Cut> find_cuts(const std::string& path, const std::vector<int64_t>& targets, bool after_blank) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw IoError("cannot open input '" + path + "' to split it: " + std::strerror(errno), "");
  std::vector<char> buffer(1 << 20);
  std::vector<Cut> cuts;
  int64_t offset = 0;  // file offset of buffer[0]
  int64_t line = 1;    // number of the line being read
  bool line_blank = false;
  size_t next = 0;  // index of the next target
  size_t got = 0;
  while (next < targets.size() && (got = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    size_t i = 0;
    while (i < got && next < targets.size()) {
      // A newline at target - 1 or later starts a line at or after the target.
      const auto counted =
          static_cast<size_t>(std::clamp<int64_t>(targets[next] - 1 - offset, int64_t(i), int64_t(got)));
      if (counted > i) {
        line += std::count(buffer.data() + i, buffer.data() + counted, '\n');
        line_blank = false;
        i = counted;
      }
      for (; i < got; ++i) {
        const char c = buffer[i];
        if (c != '\n') {
          line_blank = line_blank && is_space(c);
          continue;
        }
        ++line;
        const bool usable = !after_blank || line_blank;
        line_blank = true;
        if (!usable) continue;
        const int64_t start = offset + static_cast<int64_t>(i) + 1;
        cuts.push_back({start, line});
        while (next < targets.size() && targets[next] <= start) ++next;
        ++i;
        break;
      }
    }
    offset += static_cast<int64_t>(got);
  }
  if (std::ferror(file.get())) throw IoError("cannot read input '" + path + "' to split it", "");
  return cuts;
}

// Cuts `file` (which starts at `start` in the weighted coordinates of split_inputs) at the
// boundaries inside it; gzip files and files without boundaries stay whole.
std::vector<InputSlice> slice_file(const InputFile& file, __int128 start, __int128 total, int parts, bool after_blank) {
  std::vector<int64_t> targets;
  for (int k = 1; k < parts && !file.gzip; ++k) {
    const __int128 boundary = total * k / parts - start;
    if (boundary > 0 && boundary < file.bytes) targets.push_back(static_cast<int64_t>(boundary));
  }
  std::vector<InputSlice> slices;
  LineRange range;
  const std::vector<Cut> cuts = targets.empty() ? std::vector<Cut>{} : find_cuts(file.path, targets, after_blank);
  for (const Cut& cut : cuts) {
    if (cut.offset >= file.bytes) break;
    range.end = cut.offset;
    slices.push_back({file, range});
    range = {cut.offset, -1, cut.line};
  }
  slices.push_back({file, range});
  return slices;
}

}  // namespace

std::vector<std::vector<InputSlice>> split_inputs(const std::vector<InputFile>& files, int parts,
                                                  const ReaderOptions& options) {
  NF_CHECK(parts >= 1, UsageError, "cannot split inputs into ", parts, " parts: need at least 1");
  // Weighted coordinates: file i spans its bytes plus one, so empty files spread too. A slice goes
  // to the share its middle falls into, floor(middle * parts / total), which never decreases.
  __int128 total = 0;
  for (const InputFile& file : files) total += file.bytes + 1;
  std::vector<std::vector<InputSlice>> shares(static_cast<size_t>(parts));
  __int128 start = 0;
  for (const InputFile& file : files) {
    const bool after_blank = resolve_layout(file.path, options) == InputLayout::kParagraphs;
    for (const InputSlice& slice : slice_file(file, start, total, parts, after_blank)) {
      const __int128 weight = slice.bytes() + (slice.range.end < 0 ? 1 : 0);
      const __int128 part = (2 * (start + slice.range.begin) + weight) * parts / (2 * total);
      shares[static_cast<size_t>(std::min<__int128>(part, parts - 1))].push_back(slice);
    }
    start += file.bytes + 1;
  }
  return shares;
}

}  // namespace nf::data
