// Hugging Face formats for byte-level BPE: tokenizer.json (read and written) and GPT-2's
// vocab.json + merges.txt (read). Tokens are stored in GPT-2's byte-level alphabet.
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/data/bpe_files.h"
#include "nf/data/byte_level.h"

namespace nf::data {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Ids at or above this are refused before the vocabulary (max id + 1 entries) is allocated: four
// times the largest vocabularies in use (Gemma's 262,144), and a guard against a file whose one
// large id would ask for gigabytes.
constexpr int64_t kMaxTokenIds = int64_t{1} << 20;

// A token's id as a file spells it: an integer in [0, kMaxTokenIds), a DataError naming `what`
// otherwise (a float such as 1e30 would be converted out of range: undefined behaviour).
TokenId token_id(const json& id, const std::string& origin, const std::string& what) {
  NF_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < kMaxTokenIds, DataError, origin,
           ": ", what, " has id ", id.dump(), "; ids are integers from 0 to ", kMaxTokenIds - 1);
  return static_cast<TokenId>(id.get<int64_t>());
}

// A vocabulary as the files spell it (ids checked by token_id), before it is checked and turned
// into a BpeTokenizer.
struct FileVocabulary {
  std::map<TokenId, std::string> tokens;  // id → token in the byte-level alphabet
  std::vector<SpecialToken> specials;
  std::vector<std::pair<std::string, std::string>> merges;  // byte-level left and right
};

std::unique_ptr<BpeTokenizer> build(const FileVocabulary& file, BpeOptions options, const std::string& origin) {
  TokenId max_id = -1;
  for (const auto& [id, token] : file.tokens) max_id = std::max(max_id, id);
  for (const SpecialToken& special : file.specials) max_id = std::max(max_id, special.id);
  std::vector<std::string> tokens(static_cast<size_t>(max_id + 1));
  // Each added token has one content and one id, and the vocabulary holds that content at that id or
  // not at all: nf writes the added tokens into tokenizer.json's vocabulary, where two ids for one
  // content would be one key twice.
  std::vector<bool> special_id(tokens.size(), false);
  std::map<std::string, TokenId> special_ids;  // content → id
  for (const SpecialToken& special : file.specials) {
    const auto [known, fresh] = special_ids.emplace(special.content, special.id);
    NF_CHECK(fresh ? !special_id[special.id] : known->second == special.id, DataError, origin, ": added token '",
             special.content, "' (id ", special.id, ") repeats the content or the id of another added token");
    special_id[special.id] = true;
  }
  std::unordered_map<std::string, TokenId> ids;  // byte-level spelling → id
  for (const auto& [id, token] : file.tokens) {
    if (special_id[id]) continue;  // added tokens may also appear in the vocabulary (GPT-2)
    const auto special = special_ids.find(token);
    NF_CHECK(special == special_ids.end(), DataError, origin, ": token '", token, "' has id ", id,
             " in the vocabulary but ", special->second, " as an added token");
    std::optional<std::string> bytes = byte_level_to_bytes(token);
    if (!bytes || bytes->empty()) {
      throw DataError(origin + ": vocabulary token '" + token + "' (id " + std::to_string(id) +
                          ") is not written in GPT-2's byte-level alphabet",
                      "only byte-level BPE tokenizers (GPT-2, Llama-3, Qwen2 style) are supported");
    }
    tokens[id] = std::move(*bytes);
    ids.emplace(token, id);
  }
  std::vector<std::pair<TokenId, TokenId>> merges;
  merges.reserve(file.merges.size());
  for (size_t rank = 0; rank < file.merges.size(); ++rank) {
    const auto& [left, right] = file.merges[rank];
    const auto left_id = ids.find(left), right_id = ids.find(right);
    NF_CHECK(left_id != ids.end() && right_id != ids.end(), DataError, origin, ": merge ", rank, " '", left, " ", right,
             "' uses a token that is not in the vocabulary");
    merges.emplace_back(left_id->second, right_id->second);
  }
  return std::make_unique<BpeTokenizer>(std::move(tokens), std::move(merges), file.specials, options, origin);
}

json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw DataError("'" + path + "' is not valid JSON (at byte " + std::to_string(e.byte) + "): " + e.what(),
                    "check that the file is a complete tokenizer.json / vocab.json");
  } catch (const json::out_of_range& e) {  // a number beyond a double, like 1e400
    throw DataError("'" + path + "' is not valid JSON: " + e.what(),
                    "check that the file is a complete tokenizer.json / vocab.json");
  }
}

// The value of `key` in `object` when present and not null.
const json* optional_key(const json& object, const char* key) {
  const auto found = object.find(key);
  return found == object.end() || found->is_null() ? nullptr : &*found;
}

std::string type_of(const json& node) { return node.is_object() ? node.value("type", std::string("?")) : "?"; }

DataError unsupported(const std::string& path, const std::string& key, const std::string& what) {
  return DataError(
      "'" + path + "': " + key + " " + what + " is not supported",
      "nf supports byte-level BPE with the GPT-2, Llama-3 or Qwen2 split pattern and no normalizer or NFC; "
      "see docs/tokenizers.md");
}

// The pre-tokenizer: ByteLevel(use_regex) alone (GPT-2), or Sequence[Split(regex, Isolated),
// ByteLevel(use_regex=false)] (Llama-3, Qwen2).
BpeOptions parse_pre_tokenizer(const json& node, const std::string& path) {
  BpeOptions options;
  const auto byte_level = [&](const json& step, bool splits) {
    NF_CHECK(type_of(step) == "ByteLevel", DataError, "'", path, "': pre_tokenizer step '", type_of(step),
             "' where ByteLevel was expected");
    options.add_prefix_space = step.value("add_prefix_space", false);
    if (step.value("use_regex", true) != splits) {
      throw unsupported(path, "pre_tokenizer", std::string("ByteLevel with use_regex=") + (splits ? "false" : "true"));
    }
  };
  if (type_of(node) == "ByteLevel") {
    byte_level(node, true);
    return options;
  }
  if (type_of(node) != "Sequence") throw unsupported(path, "pre_tokenizer", "'" + type_of(node) + "'");
  const json& steps = node.at("pretokenizers");
  if (steps.size() != 2 || type_of(steps[0]) != "Split") {
    throw unsupported(path, "pre_tokenizer", "Sequence other than [Split, ByteLevel]");
  }
  const json& split = steps[0];
  const json* regex = split.contains("pattern") ? optional_key(split["pattern"], "Regex") : nullptr;
  const auto pattern = regex ? pretokenizer_from_regex(regex->get<std::string>()) : std::nullopt;
  if (!pattern) throw unsupported(path, "pre_tokenizer Split pattern", split.value("pattern", json()).dump());
  if (split.value("behavior", std::string()) != "Isolated" || split.value("invert", false)) {
    throw unsupported(path, "pre_tokenizer Split", "behavior other than Isolated");
  }
  options.pattern = *pattern;
  byte_level(steps[1], false);
  return options;
}

void check_model(const json& model, const std::string& path) {
  if (type_of(model) != "BPE") throw unsupported(path, "model.type", "'" + type_of(model) + "'");
  if (optional_key(model, "dropout")) throw unsupported(path, "model.dropout", "(BPE dropout)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* value = optional_key(model, key);
    if (value && !value->get<std::string>().empty())
      throw unsupported(path, std::string("model.") + key, value->dump());
  }
  if (model.value("byte_fallback", false)) throw unsupported(path, "model.byte_fallback", "true");
}

std::pair<std::string, std::string> split_merge(const std::string& line, const std::string& origin, size_t rank) {
  const size_t space = line.find(' ');
  NF_CHECK(space != std::string::npos && line.find(' ', space + 1) == std::string::npos, DataError, origin, ": merge ",
           rank, " '", line, "' is not two tokens separated by one space");
  return {line.substr(0, space), line.substr(space + 1)};
}

}  // namespace

std::unique_ptr<BpeTokenizer> load_bpe_tokenizer_json(const std::string& path) {
  const json doc = parse_json_file(path);
  try {
    NF_CHECK(doc.is_object() && doc.contains("model"), DataError, "'", path,
             "' has no \"model\": not a tokenizer.json");
    const json& model = doc["model"];
    check_model(model, path);
    const json* pre_tokenizer = optional_key(doc, "pre_tokenizer");
    if (!pre_tokenizer) throw unsupported(path, "pre_tokenizer", "null (no byte-level pre-tokenizer)");
    BpeOptions options = parse_pre_tokenizer(*pre_tokenizer, path);
    if (const json* normalizer = optional_key(doc, "normalizer")) {
      if (type_of(*normalizer) != "NFC") throw unsupported(path, "normalizer", "'" + type_of(*normalizer) + "'");
      options.nfc = true;
    }
    options.ignore_merges = model.value("ignore_merges", false);
    if (const json* decoder = optional_key(doc, "decoder"); decoder && type_of(*decoder) != "ByteLevel") {
      throw unsupported(path, "decoder", "'" + type_of(*decoder) + "'");
    }
    FileVocabulary file;
    const std::string origin = "'" + path + "'";
    for (const auto& [token, id] : model.at("vocab").items())
      file.tokens.emplace(token_id(id, origin, "token '" + token + "'"), token);
    const json& merges = model.at("merges");
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const json& merge = merges[rank];
      if (merge.is_string()) {
        file.merges.push_back(split_merge(merge.get<std::string>(), origin, rank));
      } else {
        NF_CHECK(merge.is_array() && merge.size() == 2, DataError, "'", path, "': model.merges[", rank, "] is ",
                 merge.dump(), ", not \"a b\" or [\"a\", \"b\"]");
        file.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      }
    }
    if (const json* added = optional_key(doc, "added_tokens")) {
      for (const json& token : *added) {
        const std::string content = token.at("content").get<std::string>();
        file.specials.push_back({content, token_id(token.at("id"), origin, "added token '" + content + "'")});
      }
    }
    return build(file, options, origin);
  } catch (const json::exception& e) {
    throw DataError("'" + path + "': unexpected tokenizer.json structure: " + e.what(),
                    "compare the file with a tokenizer.json written by Hugging Face tokenizers");
  }
}

std::unique_ptr<BpeTokenizer> load_bpe_vocab_merges(const std::string& vocab_path, const std::string& merges_path) {
  const json vocab = parse_json_file(vocab_path);
  NF_CHECK(vocab.is_object(), DataError, "'", vocab_path, "' is not a JSON object of token → id");
  FileVocabulary file;
  for (const auto& [token, id] : vocab.items()) {
    const TokenId checked = token_id(id, "'" + vocab_path + "'", "token '" + token + "'");
    if (token == "<|endoftext|>") file.specials.push_back({token, checked});
    file.tokens.emplace(checked, token);
  }
  std::ifstream in(merges_path);
  NF_CHECK(in, IoError, "cannot read '", merges_path, "'");
  std::string line;
  for (size_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line.empty() || (line_number == 1 && line.rfind("#version", 0) == 0)) continue;
    file.merges.push_back(
        split_merge(line, "'" + merges_path + "' line " + std::to_string(line_number), file.merges.size()));
  }
  return build(file, BpeOptions{}, "'" + vocab_path + "'");
}

std::string bpe_to_tokenizer_json(const BpeTokenizer& tokenizer) {
  const BpeOptions& options = tokenizer.options();
  ordered_json doc;
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = ordered_json::array();
  for (const SpecialToken& special : tokenizer.specials()) {
    doc["added_tokens"].push_back({{"id", special.id},
                                   {"content", special.content},
                                   {"single_word", false},
                                   {"lstrip", false},
                                   {"rstrip", false},
                                   {"normalized", false},
                                   {"special", true}});
  }
  doc["normalizer"] = options.nfc ? ordered_json{{"type", "NFC"}} : ordered_json(nullptr);
  const bool gpt2 = options.pattern == PreTokenizerPattern::kGpt2;
  ordered_json byte_level = {{"type", "ByteLevel"},
                             {"add_prefix_space", options.add_prefix_space},
                             {"trim_offsets", true},
                             {"use_regex", gpt2}};
  if (gpt2) {
    doc["pre_tokenizer"] = byte_level;
  } else {
    ordered_json split = {{"type", "Split"},
                          {"pattern", {{"Regex", pretokenizer_regex(options.pattern)}}},
                          {"behavior", "Isolated"},
                          {"invert", false}};
    doc["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}};
  }
  doc["post_processor"] = nullptr;
  doc["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  ordered_json model = {{"type", "BPE"},
                        {"dropout", nullptr},
                        {"unk_token", nullptr},
                        {"continuing_subword_prefix", nullptr},
                        {"end_of_word_suffix", nullptr},
                        {"fuse_unk", false},
                        {"byte_fallback", false},
                        {"ignore_merges", options.ignore_merges}};
  ordered_json vocab = ordered_json::object();
  const std::vector<std::string>& tokens = tokenizer.tokens();
  // ordered_map's operator[] searches linearly (quadratic for a 128k vocabulary: tens of seconds);
  // the tokens are unique (the constructor checks), so append to the underlying vector instead.
  auto& entries =
      static_cast<std::vector<std::pair<const std::string, ordered_json>>&>(vocab.get_ref<ordered_json::object_t&>());
  entries.reserve(tokens.size());
  // The specials go into the vocab too, at their ids, as Hugging Face's own files have them:
  // tokenizers keeps an added token at its "id" only if model.vocab has it there, and appends one it
  // lacks after the largest vocab id, which moves it onto (and hides) a merged token's id.
  std::map<size_t, const std::string*> special_at;
  for (const SpecialToken& special : tokenizer.specials()) special_at[special.id] = &special.content;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const auto special = special_at.find(id);
    if (special != special_at.end()) {
      entries.emplace_back(*special->second, id);
    } else if (!tokens[id].empty()) {
      entries.emplace_back(bytes_to_byte_level(tokens[id]), id);
    }
  }
  model["vocab"] = std::move(vocab);
  ordered_json merges = ordered_json::array();
  for (const auto& [left, right] : tokenizer.merges()) {
    merges.push_back(bytes_to_byte_level(tokens[left]) + " " + bytes_to_byte_level(tokens[right]));
  }
  model["merges"] = std::move(merges);
  doc["model"] = std::move(model);
  return doc.dump(2) + "\n";
}

std::string BpeTokenizer::save(const std::string& dir) const {
  write_file_atomic((std::filesystem::path(dir) / "tokenizer.json").string(), bpe_to_tokenizer_json(*this));
  return "tokenizer.json";
}

}  // namespace nf::data
