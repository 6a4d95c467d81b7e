// Prompts for generation: reading, encoding and showing them (prompts.h).
#include "nf/data/prompts.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "nf/core/error.h"
#include "nf/data/document_encoder.h"
#include "nf/data/line_reader.h"
#include "nf/data/record_parser.h"
#include "nf/data/utf8.h"

namespace nf::data {
namespace {

constexpr int64_t kMaxPromptBytes = int64_t{64} << 20;

const char* role_name(SegmentRole role) {
  return role == SegmentRole::kSystem ? "system" : role == SegmentRole::kUser ? "user" : "assistant";
}

}  // namespace

Document plain_prompt(std::string text, std::string source) {
  Document prompt;
  prompt.segments.push_back({SegmentRole::kText, std::move(text)});
  prompt.source = std::move(source);
  return prompt;
}

bool is_chat(const Document& prompt) {
  return !(prompt.segments.size() == 1 && prompt.segments[0].role == SegmentRole::kText);
}

std::vector<Document> read_prompts(const std::string& path) {
  NF_CHECK(std::filesystem::is_regular_file(path), UsageError, "prompts file '", path,
           "' does not exist or is not a file");
  LineReader reader(path, kMaxPromptBytes);
  std::vector<Document> prompts;
  std::string line;
  while (reader.next(line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(reader.line_number());
    NF_CHECK(!reader.truncated(), DataError, where, ": the line is longer than ", kMaxPromptBytes, " bytes");
    Document prompt;
    if (const auto problem = parse_prompt_record(line, prompt)) throw DataError(where + ": " + problem->reason);
    prompt.source = where;
    prompts.push_back(std::move(prompt));
  }
  NF_CHECK(!prompts.empty(), UsageError, "prompts file '", path,
           "' holds no prompt: write one JSON record per line, {\"prompt\": \"...\"} or {\"messages\": [...]}");
  return prompts;
}

std::vector<TokenId> encode_prompt(const Document& prompt, const Tokenizer& tokenizer,
                                   std::optional<ChatTemplateKind> chat) {
  if (!is_chat(prompt)) return tokenizer.encode(prompt.segments[0].text);
  NF_CHECK(chat.has_value(), UsageError, prompt.source,
           ": a conversation needs a chat template; name one (nf, llama3 or chatml)");
  std::vector<TokenId> ids = DocumentEncoder(tokenizer, DatasetFormat::kSft, *chat).encode(prompt).tokens;
  const ChatTemplate chat_template(*chat, tokenizer);
  const std::vector<TokenId>& answer = chat_template.header(ChatRole::kAssistant);
  ids.insert(ids.end(), answer.begin(), answer.end());
  return ids;
}

std::vector<std::vector<int64_t>> encode_prompts(const std::vector<Document>& prompts, const Tokenizer& tokenizer,
                                                 std::optional<ChatTemplateKind> chat, int64_t context) {
  std::vector<std::vector<int64_t>> encoded;
  for (const Document& prompt : prompts) {
    const std::vector<TokenId> ids = encode_prompt(prompt, tokenizer, chat);
    NF_CHECK(static_cast<int64_t>(ids.size()) < context, UsageError, prompt.source, ": the prompt is ", ids.size(),
             " tokens, and the model's context (model.max_seq_len) is ", context,
             " tokens: shorten it so that it leaves room for the new tokens");
    encoded.emplace_back(ids.begin(), ids.end());
  }
  return encoded;
}

std::vector<TokenId> completion_stop_tokens(const Tokenizer& tokenizer, const std::vector<Document>& prompts,
                                            std::optional<ChatTemplateKind> chat) {
  std::vector<TokenId> stops;
  if (const auto eos = tokenizer.special(SpecialRole::kEos)) stops.push_back(*eos);
  const bool any_chat = std::any_of(prompts.begin(), prompts.end(), is_chat);
  if (any_chat && chat) {
    const ChatTemplate chat_template(*chat, tokenizer);
    stops.insert(stops.end(), chat_template.end_of_turn().begin(), chat_template.end_of_turn().end());
  }
  return stops;
}

std::string completion_text(const Tokenizer& tokenizer, const std::vector<int64_t>& tokens,
                            const std::vector<int64_t>& stop_tokens, const std::vector<std::string>& stop_strings) {
  const bool stopped =
      !tokens.empty() && std::find(stop_tokens.begin(), stop_tokens.end(), tokens.back()) != stop_tokens.end();
  std::string text = tokenizer.decode(std::vector<TokenId>(tokens.begin(), tokens.end() - (stopped ? 1 : 0)));
  for (const std::string& stop : stop_strings) {
    const size_t at = text.find(stop);
    if (at != std::string::npos) text.resize(at);
  }
  return replace_invalid_utf8(text);
}

std::string prompt_text(const Document& prompt) {
  if (!is_chat(prompt)) return prompt.segments[0].text;
  std::string text;
  for (const Segment& turn : prompt.segments) {
    text += (text.empty() ? "" : "\n") + std::string(role_name(turn.role)) + ": " + turn.text;
  }
  return text;
}

}  // namespace nf::data
