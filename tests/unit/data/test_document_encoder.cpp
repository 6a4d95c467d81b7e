// The encoder against docs/data-format.md's rules, with a byte-level fake tokenizer: token ids,
// loss masks, DPO spans per format, and the errors for missing special tokens.
#include <gtest/gtest.h>

#include <set>

#include "nf/core/error.h"
#include "nf/data/document_encoder.h"

namespace nf::data {
namespace {

// Byte-level: special role r has id r, byte b has id b + 7, and the `markers` (other special
// tokens, e.g. "<|im_start|>") ids 263, 264, ... Roles in `missing` have no token.
class FakeTokenizer : public Tokenizer {
 public:
  explicit FakeTokenizer(std::set<SpecialRole> missing = {}, std::vector<std::string> markers = {})
      : missing_(std::move(missing)), markers_(std::move(markers)) {}
  std::string kind() const override { return "fake-bytes"; }
  int64_t vocab_size() const override { return 256 + kSpecials + static_cast<int64_t>(markers_.size()); }
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> ids;
    for (unsigned char byte : text) ids.push_back(byte + kSpecials);
    return ids;
  }
  std::string decode(const std::vector<TokenId>& ids) const override {
    static constexpr const char* kNames[] = {"<|bos|>",  "<|eos|>",       "<|pad|>", "<|system|>",
                                             "<|user|>", "<|assistant|>", "<|end|>"};
    std::string text;
    for (TokenId id : ids) {
      text += id < kSpecials  ? std::string(kNames[id])
              : id < kMarkers ? std::string(1, char(id - kSpecials))
                              : markers_[static_cast<size_t>(id - kMarkers)];
    }
    return text;
  }
  std::optional<TokenId> special(SpecialRole role) const override {
    if (missing_.count(role)) return std::nullopt;
    return static_cast<TokenId>(role);
  }
  std::optional<TokenId> special_token(std::string_view content) const override {
    for (size_t i = 0; i < markers_.size(); ++i) {
      if (markers_[i] == content) return static_cast<TokenId>(kMarkers + i);
    }
    return std::nullopt;
  }
  std::string fingerprint() const override { return "0123456789abcdef0123"; }
  std::string save(const std::string&) const override { return "none"; }

 private:
  static constexpr TokenId kSpecials = 7;
  static constexpr TokenId kMarkers = kSpecials + 256;
  std::set<SpecialRole> missing_;
  std::vector<std::string> markers_;
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
            "chat template nf needs the special token <|user|>, and the fake-bytes tokenizer 0123456789ab has none");
  EXPECT_EQ(usage_message(no_user, DatasetFormat::kPretrain), "no error");
  const FakeTokenizer no_eos({SpecialRole::kEos});
  EXPECT_EQ(
      usage_message(no_eos, DatasetFormat::kSequence),
      "sequence needs <|eos|> (a special token for that role), and the fake-bytes tokenizer 0123456789ab has none");
  EXPECT_EQ(usage_message(FakeTokenizer({SpecialRole::kEndOfTurn}), DatasetFormat::kDpo),
            "chat template nf needs the special token <|end|>, and the fake-bytes tokenizer 0123456789ab has none");
  // <|system|> is needed only once a document has a system turn.
  const FakeTokenizer no_system({SpecialRole::kSystem});
  const Document with_system = make({{SegmentRole::kSystem, "s"}, {SegmentRole::kAssistant, "a"}});
  const Document without_system = make({{SegmentRole::kUser, "u"}, {SegmentRole::kAssistant, "a"}});
  EXPECT_EQ(usage_message(no_system, DatasetFormat::kSft, &without_system), "no error");
  EXPECT_EQ(usage_message(no_system, DatasetFormat::kSft, &with_system),
            "chat template nf needs the special token <|system|>, and the fake-bytes tokenizer 0123456789ab has none");
}

const std::vector<std::string> kLlama3Markers = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                                 "<|eot_id|>"};
const std::vector<std::string> kChatmlMarkers = {"<|im_start|>", "<|im_end|>"};

TEST(ChatTemplate, Llama3HeadersEachTurnAfterBeginOfTextAndTrainsOnAssistantContentAndEot) {
  const FakeTokenizer tokenizer({}, kLlama3Markers);
  const DocumentEncoder encoder(tokenizer, DatasetFormat::kSft, ChatTemplateKind::kLlama3);
  const EncodedDocument out = encoder.encode(make({{SegmentRole::kUser, "q?"}, {SegmentRole::kAssistant, "A"}}));
  EXPECT_EQ(tokenizer.decode(out.tokens),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nq?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>");
  // begin 1; user: header 1 + 4 + 1 + 2, content 2, eot 1; assistant: header 1 + 9 + 1 + 2, "A", eot.
  EXPECT_EQ(mask_text(out.loss_mask), std::string(1 + 8 + 2 + 1 + 13, '0') + "11");
}

TEST(ChatTemplate, ChatmlEndsEachTurnWithImEndAndANewlineThatIsNeverTrained) {
  const FakeTokenizer tokenizer({}, kChatmlMarkers);
  const DocumentEncoder encoder(tokenizer, DatasetFormat::kSft, ChatTemplateKind::kChatml);
  const EncodedDocument out =
      encoder.encode(make({{SegmentRole::kSystem, "s"}, {SegmentRole::kUser, "q"}, {SegmentRole::kAssistant, "ab"}}));
  EXPECT_EQ(tokenizer.decode(out.tokens),
            "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\nab<|im_end|>\n");
  // system: 1 + 7 + 1 + 1 + 1, user: 1 + 5 + 1 + 1 + 1, assistant: header 1 + 10, "ab" and <|im_end|>, "\n".
  EXPECT_EQ(mask_text(out.loss_mask), std::string(11 + 9 + 11, '0') + "111" + "0");
}

TEST(ChatTemplate, DpoPromptEndsWithTheAssistantHeaderAndResponsesWithTheEndOfTurn) {
  const FakeTokenizer tokenizer({}, kChatmlMarkers);
  const DocumentEncoder encoder(tokenizer, DatasetFormat::kDpo, ChatTemplateKind::kChatml);
  const EncodedDocument out = encoder.encode(
      make({{SegmentRole::kPrompt, "2+2?"}, {SegmentRole::kChosen, "4"}, {SegmentRole::kRejected, "five"}}));
  EXPECT_EQ(tokenizer.decode(out.tokens),
            "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>five<|im_end|>");
  ASSERT_TRUE(out.dpo.has_value());
  EXPECT_EQ(out.dpo->prompt, (1u + 5u + 4u + 1u + 1u) + (1u + 10u));
  EXPECT_EQ(out.dpo->chosen, 1u + 1u);
  EXPECT_EQ(out.dpo->rejected, 4u + 1u);
  EXPECT_EQ(out.dpo->prompt + out.dpo->chosen + out.dpo->rejected, out.tokens.size());
}

TEST(ChatTemplate, AMissingMarkerOrAWrongFormatOrNameIsAUsageError) {
  const FakeTokenizer chatml_only({}, kChatmlMarkers);
  try {
    const DocumentEncoder encoder(chatml_only, DatasetFormat::kSft, ChatTemplateKind::kLlama3);
    FAIL();
  } catch (const UsageError& error) {
    EXPECT_EQ(std::string(error.what()),
              "chat template llama3 needs the special token <|begin_of_text|>, and the fake-bytes tokenizer "
              "0123456789ab has none");
    EXPECT_NE(error.hint().find("--chat-template"), std::string::npos);
  }
  EXPECT_THROW(DocumentEncoder(chatml_only, DatasetFormat::kPretrain, ChatTemplateKind::kChatml), UsageError);
  EXPECT_EQ(parse_chat_template("chatml", "--chat-template"), ChatTemplateKind::kChatml);
  try {
    parse_chat_template("llama2", "--chat-template");
    FAIL();
  } catch (const UsageError& error) {
    EXPECT_EQ(std::string(error.what()), "--chat-template: unknown chat template 'llama2'");
    EXPECT_EQ(error.hint(), "use nf, llama3 or chatml");
  }
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
