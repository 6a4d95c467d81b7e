// A document as read from the user's input, before tokenization: ordered text segments with a
// role each, plus optional metadata. Input readers produce these; the shard builder turns them
// into tokens, loss masks and DPO spans (docs/data-format.md says how, per dataset format).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nf::data {

enum class DatasetFormat { kPretrain, kSft, kDpo, kSequence };

enum class SegmentRole : uint8_t {
  kText,       // pretrain: the document's text
  kSystem,     // sft: a system turn
  kUser,       // sft: the instruction / a user turn
  kAssistant,  // sft: the response / an assistant turn (the only role trained on in sft)
  kPrompt,     // dpo: the shared prompt
  kChosen,     // dpo: the preferred response
  kRejected,   // dpo: the dispreferred response
  kContext,    // sequence: one of the preceding paragraphs
  kNext,       // sequence: the paragraph to predict (trained on)
};

struct Segment {
  SegmentRole role = SegmentRole::kText;
  std::string text;
};

struct Document {
  std::vector<Segment> segments;
  std::map<std::string, std::string> metadata;  // "id", "emotion", "scene" where the input has them
  std::string source;                           // "path:line" (JSONL) or "path:line" of the paragraph start
};

}  // namespace nf::data
