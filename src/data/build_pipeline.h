// One rank's part of `nf-shard build` (nf/data/dataset_builder.h): read its share of the inputs in
// batches, encode each batch on several threads while the next one is read, and write the
// documents in input order to the train and val shard writers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nf/data/bad_input.h"
#include "nf/data/dataset_builder.h"
#include "nf/data/input_split.h"
#include "nf/data/manifest.h"
#include "nf/data/progress.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

struct RankBuild {
  std::map<std::string, std::vector<ShardRecord>> shards;  // "train", "val" → shards in writing order
  BadInputReport bad;
  uint64_t documents = 0;
  uint64_t tokens = 0;
  int64_t input_bytes = 0;
};

// Writes the shards of `slices` (this rank's share). `file_stem_suffix` ("" or "-r003") tells
// the ranks' files apart. `progress` may be null.
RankBuild build_rank_shards(const Tokenizer& tokenizer, const BuildOptions& options,
                            const std::vector<InputSlice>& slices, const std::string& file_stem_suffix,
                            ProgressReporter* progress);

}  // namespace nf::data
