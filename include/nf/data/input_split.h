// Splits the input list into one share per rank or thread: contiguous, near-equal in bytes, and in
// input order, so output written share by share comes out in the same order for any number of
// shares. Large plain files are cut at line (or paragraph) starts, so one big train.jsonl still
// spreads over all ranks; gzip files are never cut.
#pragma once

#include <cstdint>
#include <vector>

#include "nf/data/document_reader.h"
#include "nf/data/input_files.h"
#include "nf/data/line_reader.h"

namespace nf::data {

struct InputSlice {
  InputFile file;
  LineRange range;  // the whole file: {0, -1, 1}
  // Bytes on disk this slice covers.
  int64_t bytes() const { return (range.end < 0 ? file.bytes : range.end) - range.begin; }
};

// Splits `files` into `parts` shares. Concatenating the shares in order gives every line of every
// file exactly once, in the list's order. Share boundaries sit at k/parts of the total bytes; a
// plain file that a boundary falls into is cut at the first line start at or after it (for the
// paragraph layout of `options`, the first line after a blank line), which reads that file once
// from its start to its last cut to count lines; a gzip file goes whole to the share its middle
// falls into. Shares can be empty when a gzip file or a file without a usable cut dominates.
// Deterministic: call it on one rank and send the result, or on every rank over the same files.
// Throws UsageError when parts < 1, IoError when a file to cut cannot be read.
std::vector<std::vector<InputSlice>> split_inputs(const std::vector<InputFile>& files, int parts,
                                                  const ReaderOptions& options);

}  // namespace nf::data
