// The encoder against docs/data-format.md's rules, with a byte-level fake tokenizer: token ids,
// loss masks, DPO spans per format, and the errors for missing special tokens.
#include <gtest/gtest.h>

#include <set>

#include "nf/core/error.h"
#include "nf/data/document_encoder.h"

namespace nf::data {
namespace {

// Byte-level: special role r has id r, byte b has id b + 7. Roles in `missing` have no token.
class FakeTokenizer : public Tokenizer {
 public:
  explicit FakeTokenizer(std::set<SpecialRole> missing = {}) : missing_(std::move(missing)) {}
  std::string kind() const override { return "fake-bytes"; }
  int64_t vocab_size() const override { return 256 + kSpecials; }
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> ids;
    for (unsigned char byte : text) ids.push_back(byte + kSpecials);
    return ids;
  }
  std::string decode(const std::vector<TokenId>& ids) const override {
    static constexpr const char* kNames[] = {"<|bos|>",  "<|eos|>",       "<|pad|>", "<|system|>",
                                             "<|user|>", "<|assistant|>", "<|end|>"};
    std::string text;
    for (TokenId id : ids) text += id < kSpecials ? std::string(kNames[id]) : std::string(1, char(id - kSpecials));
    return text;
  }
  std::optional<TokenId> special(SpecialRole role) const override {
    if (missing_.count(role)) return std::nullopt;
    return static_cast<TokenId>(role);
  }
  std::string fingerprint() const override { return "0123456789abcdef0123"; }
  std::string save(const std::string&) const override { return "none"; }

 private:
  static constexpr TokenId kSpecials = 7;
  std::set<SpecialRole> missing_;
};

Document make(std::vector<Segment> segments) {
  Document document;
  document.segments = std::move(segments);
  document.metadata = {{"id", "doc-1"}};
  document.source = "in.jsonl:3";
  return document;
}

// The mask as a string of 0/1, one per token, for readable expectations.
std::string mask_text(const std::vector<uint8_t>& mask) {
  std::string text;
  for (uint8_t bit : mask) text += bit ? '1' : '0';
  return text;
}

TEST(DocumentEncoder, PretrainIsTextThenEosWithoutMask) {
  FakeTokenizer tokenizer;
  const DocumentEncoder encoder(tokenizer, DatasetFormat::kPretrain);
  const EncodedDocument out = encoder.encode(make({{SegmentRole::kText, "In the beginning 太初"}}));
  EXPECT_EQ(tokenizer.decode(out.tokens), "In the beginning 太初<|eos|>");
  EXPECT_EQ(out.tokens.back(), static_cast<TokenId>(SpecialRole::kEos));
  EXPECT_TRUE(out.loss_mask.empty());
  EXPECT_FALSE(out.dpo.has_value());
  EXPECT_EQ(out.metadata.at("id"), "doc-1");
  EXPECT_EQ(out.source, "in.jsonl:3");
}

TEST(DocumentEncoder, SftWrapsEachTurnAndTrainsOnAssistantContentAndItsEnd) {
  FakeTokenizer tokenizer;
  const DocumentEncoder encoder(tokenizer, DatasetFormat::kSft);
  const EncodedDocument out = encoder.encode(
      make({{SegmentRole::kSystem, "sys"}, {SegmentRole::kUser, "q?"}, {SegmentRole::kAssistant, "诗"}}));
  EXPECT_EQ(tokenizer.decode(out.tokens), "<|system|>sys<|end|><|user|>q?<|end|><|assistant|>诗<|end|>");
  // system: 1 + 3 + 1, user: 1 + 2 + 1, assistant: role 0, 3 UTF-8 bytes and <|end|> 1.
  EXPECT_EQ(mask_text(out.loss_mask),
            "00000"
            "0000"
            "0"
            "111"
            "1");
  EXPECT_FALSE(out.dpo.has_value());
}

TEST(DocumentEncoder, DpoSpansArePromptChosenRejectedLengths) {
  FakeTokenizer tokenizer;
  const DocumentEncoder encoder(tokenizer, DatasetFormat::kDpo);
  const EncodedDocument out = encoder.encode(
      make({{SegmentRole::kPrompt, "2+2?"}, {SegmentRole::kChosen, "4"}, {SegmentRole::kRejected, "five"}}));
  EXPECT_EQ(tokenizer.decode(out.tokens), "<|user|>2+2?<|end|><|assistant|>4<|end|>five<|end|>");
  ASSERT_TRUE(out.dpo.has_value());
  EXPECT_EQ(out.dpo->prompt, 1u + 4u + 1u + 1u);
  EXPECT_EQ(out.dpo->chosen, 1u + 1u);
  EXPECT_EQ(out.dpo->rejected, 4u + 1u);
  EXPECT_EQ(out.dpo->prompt + out.dpo->chosen + out.dpo->rejected, out.tokens.size());
  EXPECT_TRUE(out.loss_mask.empty());
  EXPECT_THROW(encoder.encode(
                   make({{SegmentRole::kChosen, "4"}, {SegmentRole::kPrompt, "2+2?"}, {SegmentRole::kRejected, "5"}})),
               DataError);
}

TEST(DocumentEncoder, SequenceTrainsOnlyOnTheNextParagraphAndItsEos) {
  FakeTokenizer tokenizer;
  const DocumentEncoder encoder(tokenizer, DatasetFormat::kSequence);
  const EncodedDocument out =
      encoder.encode(make({{SegmentRole::kContext, "ab"}, {SegmentRole::kContext, "c"}, {SegmentRole::kNext, "de"}}));
  EXPECT_EQ(tokenizer.decode(out.tokens), "ab<|eos|>c<|eos|>de<|eos|>");
  EXPECT_EQ(mask_text(out.loss_mask),
            "000"
            "00"
            "111");
}

std::string usage_message(const Tokenizer& tokenizer, DatasetFormat format, const Document* document = nullptr) {
  try {
    const DocumentEncoder encoder(tokenizer, format);
    if (document) encoder.encode(*document);
  } catch (const UsageError& error) {
    return error.what();
  }
  return "no error";
}

TEST(DocumentEncoder, AMissingSpecialTokenNamesTheFormatTheRoleAndTheTokenizer) {
  const FakeTokenizer no_user({SpecialRole::kUser});
  EXPECT_EQ(usage_message(no_user, DatasetFormat::kSft),
            "sft needs <|user|> (a special token for that role), and the fake-bytes tokenizer 0123456789ab has none");
  EXPECT_EQ(usage_message(no_user, DatasetFormat::kPretrain), "no error");
  const FakeTokenizer no_eos({SpecialRole::kEos});
  EXPECT_EQ(
      usage_message(no_eos, DatasetFormat::kSequence),
      "sequence needs <|eos|> (a special token for that role), and the fake-bytes tokenizer 0123456789ab has none");
  EXPECT_EQ(usage_message(FakeTokenizer({SpecialRole::kEndOfTurn}), DatasetFormat::kDpo),
            "dpo needs <|end|> (a special token for that role), and the fake-bytes tokenizer 0123456789ab has none");
  // <|system|> is needed only once a document has a system turn.
  const FakeTokenizer no_system({SpecialRole::kSystem});
  const Document with_system = make({{SegmentRole::kSystem, "s"}, {SegmentRole::kAssistant, "a"}});
  const Document without_system = make({{SegmentRole::kUser, "u"}, {SegmentRole::kAssistant, "a"}});
  EXPECT_EQ(usage_message(no_system, DatasetFormat::kSft, &without_system), "no error");
  EXPECT_EQ(usage_message(no_system, DatasetFormat::kSft, &with_system),
            "sft needs <|system|> (a special token for that role), and the fake-bytes tokenizer 0123456789ab has none");
}

TEST(DocumentEncoder, ASegmentOfAnotherFormatIsADataErrorNamingTheSource) {
  FakeTokenizer tokenizer;
  const DocumentEncoder encoder(tokenizer, DatasetFormat::kPretrain);
  try {
    encoder.encode(make({{SegmentRole::kAssistant, "x"}}));
    FAIL();
  } catch (const DataError& error) {
    EXPECT_EQ(std::string(error.what()), "in.jsonl:3: a segment of role assistant cannot be encoded as pretrain data");
  }
}

}  // namespace
}  // namespace nf::data
