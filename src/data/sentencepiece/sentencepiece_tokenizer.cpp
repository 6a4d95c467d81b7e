// SentencePieceTokenizer: a thin wrapper over sentencepiece::SentencePieceProcessor.
#include "nf/data/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <filesystem>

#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/hash.h"

namespace nf::data {

struct SentencePieceTokenizer::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  const std::string serialized = read_file(path);
  const auto status = impl_->processor.LoadFromSerializedProto(serialized);
  NF_CHECK(status.ok(), DataError, "'", path, "' is not a sentencepiece model: ", status.ToString());
  auto& processor = impl_->processor;
  const auto set_role = [&](SpecialRole role, int id) {
    if (id >= 0) roles_.emplace(role, id);
  };
  set_role(SpecialRole::kBos, processor.bos_id());
  set_role(SpecialRole::kEos, processor.eos_id());
  set_role(SpecialRole::kPad, processor.pad_id());
  // Chat roles exist when the model was trained with them as user-defined or control symbols.
  const std::pair<SpecialRole, const char*> chat[] = {{SpecialRole::kSystem, "<|system|>"},
                                                      {SpecialRole::kUser, "<|user|>"},
                                                      {SpecialRole::kAssistant, "<|assistant|>"},
                                                      {SpecialRole::kEndOfTurn, "<|end|>"}};
  for (const auto& [role, piece] : chat) {
    const int id = processor.PieceToId(piece);
    if (!processor.IsUnknown(id)) set_role(role, id);
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

int64_t SentencePieceTokenizer::vocab_size() const { return impl_->processor.GetPieceSize(); }

std::vector<TokenId> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const auto status = impl_->processor.Encode(absl::string_view(text.data(), text.size()), &ids);
  NF_CHECK(status.ok(), DataError, "sentencepiece '", path_, "' could not encode a text: ", status.ToString());
  return {ids.begin(), ids.end()};
}

std::string SentencePieceTokenizer::decode(const std::vector<TokenId>& ids) const {
  // sentencepiece decodes control pieces (<s>, </s>) to nothing; the Tokenizer contract wants
  // their strings, so runs of ordinary ids are decoded between them.
  const auto& processor = impl_->processor;
  std::string text;
  std::vector<int> run;
  const auto flush = [&] {
    std::string piece_text;
    const auto status = processor.Decode(run, &piece_text);
    NF_CHECK(status.ok(), DataError, "sentencepiece '", path_, "' could not decode: ", status.ToString());
    text += piece_text;
    run.clear();
  };
  for (const TokenId id : ids) {
    NF_CHECK(id >= 0 && id < vocab_size(), DataError, "cannot decode token id ", id, ": '", path_, "' has ",
             vocab_size(), " pieces");
    if (processor.IsControl(id)) {
      flush();
      text += processor.IdToPiece(id);
    } else {
      run.push_back(id);
    }
  }
  flush();
  return text;
}

std::optional<TokenId> SentencePieceTokenizer::special(SpecialRole role) const {
  const auto found = roles_.find(role);
  if (found == roles_.end()) return std::nullopt;
  return found->second;
}

std::optional<TokenId> SentencePieceTokenizer::special_token(std::string_view content) const {
  const auto& processor = impl_->processor;
  const int id = processor.PieceToId(absl::string_view(content.data(), content.size()));
  if (processor.IsUnknown(id)) return std::nullopt;  // as for the chat roles in the constructor
  return id;
}

std::string SentencePieceTokenizer::fingerprint() const {
  return sha256_hex(impl_->processor.serialized_model_proto());
}

std::string SentencePieceTokenizer::save(const std::string& dir) const {
  write_file_atomic((std::filesystem::path(dir) / "tokenizer.model").string(),
                    impl_->processor.serialized_model_proto());
  return "tokenizer.model";
}

}  // namespace nf::data
