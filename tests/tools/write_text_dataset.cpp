// write-text-dataset: writes a small dataset from a text file through the real ShardWriter, for
// the h5py cross-check (tests/python/check_shard.py) and the nf-shard CLI test. Non-empty lines
// become documents with the byte-token rules of tests/unit/data/data_fixture.h: pretrain = one
// line each, sft = (question, answer) line pairs, dpo = (prompt, chosen, rejected) triples.
//
//   write-text-dataset TEXT_FILE OUT_DIR pretrain|sft|dpo [TARGET_SHARD_BYTES [VAL_EVERY]]
//
// With VAL_EVERY = k > 0, every k-th document goes to the val split instead of train.
#include <fstream>
#include <iostream>

#include "../unit/data/data_fixture.h"
#include "nf/core/error.h"

int main(int argc, char** argv) {
  using namespace nf::data;
  if (argc < 4) {
    std::cerr << "usage: write-text-dataset TEXT_FILE OUT_DIR pretrain|sft|dpo [TARGET_SHARD_BYTES]\n";
    return 2;
  }
  try {
    std::ifstream in(argv[1]);
    if (!in) throw nf::IoError(std::string("cannot read '") + argv[1] + "'");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(line);
    }
    const DatasetFormat format = parse_format(argv[3], "command line");
    const size_t val_every = argc > 5 ? std::stoull(argv[5]) : 0;
    std::vector<EncodedDocument> docs, val_docs;
    const size_t group = format == DatasetFormat::kPretrain ? 1 : format == DatasetFormat::kSft ? 2 : 3;
    for (size_t i = 0; i + group <= lines.size(); i += group) {
      auto& split = val_every > 0 && (i / group) % val_every == val_every - 1 ? val_docs : docs;
      if (format == DatasetFormat::kPretrain) split.push_back(testing::pretrain_document(lines[i]));
      if (format == DatasetFormat::kSft) split.push_back(testing::sft_document(lines[i], lines[i + 1]));
      if (format == DatasetFormat::kDpo) split.push_back(testing::dpo_document(lines[i], lines[i + 1], lines[i + 2]));
    }
    const uint64_t target = argc > 4 ? std::stoull(argv[4]) : uint64_t{1} << 20;
    testing::write_dataset(argv[2], format, docs, target, val_docs);
  } catch (const nf::Error& e) {
    std::cerr << "write-text-dataset: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
