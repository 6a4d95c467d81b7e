// Test fixtures for the dataset layer: real text as byte tokens, small datasets.
#include "data_fixture.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "nf/core/hash.h"

namespace nf::data::testing {

std::vector<std::string> bible_verses(const std::string& range) {
  const std::string command = "bible -f '" + range + "' 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run bible (install bible-kjv)");
  std::string text;
  char buffer[65536];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, got);
  ::pclose(pipe);
  std::vector<std::string> verses;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) verses.push_back(line);
  }
  if (verses.empty()) throw std::runtime_error("bible printed nothing for " + range + " (install bible-kjv)");
  return verses;
}

std::vector<std::string> tang_poems() {
  std::ifstream in("/usr/share/games/fortunes/tang300");
  if (!in) throw std::runtime_error("cannot read tang300 (install fortunes-zh)");
  const std::regex colour("\x1b\\[[0-9;]*m");
  std::vector<std::string> poems;
  std::string poem;
  for (std::string line; std::getline(in, line);) {
    if (line == "%") {
      if (!poem.empty()) poems.push_back(poem);
      poem.clear();
    } else {
      poem += std::regex_replace(line, colour, "") + "\n";
    }
  }
  if (!poem.empty()) poems.push_back(poem);
  return poems;
}

namespace {
void append_bytes(std::vector<TokenId>& tokens, const std::string& text) {
  for (unsigned char byte : text) tokens.push_back(byte);
}
}  // namespace

EncodedDocument pretrain_document(const std::string& text) {
  EncodedDocument doc;
  append_bytes(doc.tokens, text);
  doc.tokens.push_back(kEos);
  doc.metadata["id"] = text.substr(0, text.find(' '));
  return doc;
}

EncodedDocument sft_document(const std::string& question, const std::string& answer) {
  EncodedDocument doc;
  doc.tokens.push_back(kUser);
  append_bytes(doc.tokens, question);
  doc.tokens.push_back(kEos);
  doc.tokens.push_back(kAssistant);
  doc.loss_mask.assign(doc.tokens.size(), 0);
  append_bytes(doc.tokens, answer);
  doc.tokens.push_back(kEos);
  doc.loss_mask.resize(doc.tokens.size(), 1);
  return doc;
}

EncodedDocument dpo_document(const std::string& prompt, const std::string& chosen, const std::string& rejected) {
  EncodedDocument doc;
  DpoSpans spans;
  doc.tokens.push_back(kUser);
  append_bytes(doc.tokens, prompt);
  doc.tokens.push_back(kAssistant);
  spans.prompt = doc.tokens.size();
  append_bytes(doc.tokens, chosen);
  doc.tokens.push_back(kEos);
  spans.chosen = doc.tokens.size() - spans.prompt;
  append_bytes(doc.tokens, rejected);
  doc.tokens.push_back(kEos);
  spans.rejected = doc.tokens.size() - spans.prompt - spans.chosen;
  doc.dpo = spans;
  doc.metadata["emotion"] = chosen.size() % 2 ? "joy" : "calm";
  return doc;
}

void strip_chunk_checksums(const std::string& dir) {
  Manifest manifest = read_manifest(dir);
  for (auto& [name, split] : manifest.splits) {
    for (ShardRecord& record : split.shards) {
      const std::string path = dir + "/" + record.file;
      const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      if (file < 0 || H5Ldelete(file, kChunkChecksumGroup, H5P_DEFAULT) < 0 || H5Fclose(file) < 0) {
        throw std::runtime_error("cannot drop the chunk checksums of " + path);
      }
      record.sha256 = sha256_file(path);
      record.chunk_crc32c.clear();
    }
  }
  write_manifest(dir, manifest);
}

Manifest write_dataset(const std::string& dir, DatasetFormat format, const std::vector<EncodedDocument>& docs,
                       uint64_t target_shard_bytes, const std::vector<EncodedDocument>& val_docs) {
  Manifest manifest;
  manifest.format = format;
  manifest.tokenizer = {"bpe", "tokenizer.json", kFingerprint, kByteVocab};
  manifest.seed = 7;
  manifest.val_fraction = val_docs.empty() ? 0.0 : 0.1;
  manifest.created_by = "nf_unit_data fixture";
  auto write_split = [&](const std::string& split, const std::vector<EncodedDocument>& split_docs) {
    ShardWriterOptions options;
    options.directory = dir;
    options.split = split;
    options.format = format;
    options.vocab_size = kByteVocab;
    options.tokenizer_fingerprint = kFingerprint;
    options.target_shard_bytes = target_shard_bytes;
    ShardWriter writer(options);
    for (const EncodedDocument& doc : split_docs) writer.add(doc);
    manifest.splits[split].shards = writer.close();
  };
  write_split("train", docs);
  if (!val_docs.empty()) write_split("val", val_docs);
  write_manifest(dir, manifest);
  return read_manifest(dir);
}

std::vector<TokenId> concatenated_tokens(const std::vector<EncodedDocument>& docs) {
  std::vector<TokenId> tokens;
  for (const EncodedDocument& doc : docs) tokens.insert(tokens.end(), doc.tokens.begin(), doc.tokens.end());
  return tokens;
}

}  // namespace nf::data::testing
