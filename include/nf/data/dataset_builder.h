// `nf-shard build` as a library: input files → documents → tokens → HDF5 shards per split → the
// manifest (docs/data-format.md, docs/nf-shard.md).
//
//   - Each rank reads its byte-balanced share of the inputs (split_inputs), in input order.
//   - Documents are read in batches; a batch's texts are encoded on `threads` threads while the
//     next batch is read. Output goes in input order, so the token arrays do not depend on the
//     number of threads, and the concatenation of the ranks' shards does not depend on the
//     number of ranks.
//   - A document goes to "val" when a hash of (seed, its text) falls below val_fraction: the
//     split of a document depends on nothing else (not on ranks, threads or its position), and
//     duplicated documents never straddle train and val.
//   - The manifest is written last, by rank 0, after every rank's shards are complete; an old
//     manifest in the output directory is removed first, so an interrupted build never leaves
//     a manifest that looks complete.
//
// This layer does no MPI: ranks talk through the BuildCollective the caller passes.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "nf/data/bad_input.h"
#include "nf/data/chat_template.h"
#include "nf/data/document.h"
#include "nf/data/document_reader.h"
#include "nf/data/manifest.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

struct BuildOptions {
  std::vector<std::string> inputs;  // files, directories, globs (discover_inputs)
  DatasetFormat format = DatasetFormat::kPretrain;
  ChatTemplateKind chat_template = ChatTemplateKind::kNf;  // sft and dpo: the tokens around each turn
  InputLayout layout = InputLayout::kAuto;
  std::string out_dir;
  uint64_t shard_bytes = uint64_t{256} << 20;  // a shard rolls once tokens + mask reach this size
  double val_fraction = 0.01;
  uint64_t seed = 0;
  int threads = 1;             // encoding threads per rank
  BadInputPolicy bad_input;    // skip and count (default), or strict
  int64_t max_doc_tokens = 0;  // longer documents are bad input of kind too-long; 0 = no limit
  int64_t max_document_bytes = 8 << 20;
  uint64_t batch_bytes = 1 << 20;  // text per encoding batch
  std::string created_by = "nf-shard build";
  std::ostream* progress = nullptr;  // rank 0 reports its share's progress here; nullptr = quiet
  bool progress_terminal = false;    // redraw one line (a TTY) instead of periodic lines
};

// How the ranks of a multi-rank build talk. The defaults describe a single process.
struct BuildCollective {
  int rank = 0;
  int world_size = 1;
  // Gathers one text per rank to rank 0: there it returns every rank's text in rank order,
  // elsewhere anything (ignored). Required when world_size > 1.
  std::function<std::vector<std::string>(const std::string&)> gather;
  // Waits for every rank. Required when world_size > 1.
  std::function<void()> barrier;
};

struct BuildResult {
  Manifest manifest;       // rank 0: the manifest written; other ranks: empty
  BadInputReport bad;      // rank 0: every rank's, merged in input order; other ranks: their own
  uint64_t documents = 0;  // good documents written (rank 0: all ranks)
  uint64_t tokens = 0;
  int64_t input_bytes = 0;  // bytes of input read (rank 0: all ranks)
  double seconds = 0.0;     // wall time of this rank's build
};

// Builds the dataset into options.out_dir with `tokenizer` (saved into out_dir by rank 0). Every
// rank must call it with the same options. Throws UsageError for bad options, DataError for bad
// input in strict mode (naming file:line) or when no document is left, IoError when files cannot
// be read or written.
BuildResult build_dataset(const Tokenizer& tokenizer, const BuildOptions& options,
                          const BuildCollective& collective = {});

// Whether `document` belongs to the val split: a hash of the seed and the document's segment
// texts (roles included), mapped to [0, 1), is below `val_fraction`.
bool is_val_document(const Document& document, uint64_t seed, double val_fraction);

// "256MB", "64KiB", "1G", "4096": sizes in bytes; suffixes are binary (K/KB/KiB = 1024, M/MB/MiB
// = 2^20, G/GB/GiB = 2^30), case-insensitive. Throws UsageError naming `what` otherwise.
uint64_t parse_byte_size(const std::string& text, const std::string& what);

// Removes what an earlier build left in `dir` that a new one would replace or that could be
// mistaken for part of it: manifest.json first, then shards (train-*.h5, val-*.h5) and
// temporary files (*.tmp.*). Other files are left alone.
void clear_previous_build(const std::string& dir);

}  // namespace nf::data
