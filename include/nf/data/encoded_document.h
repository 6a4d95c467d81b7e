// One document after tokenization: what DocumentEncoder produces and ShardWriter stores.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nf/data/shard_format.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

struct EncodedDocument {
  std::vector<TokenId> tokens;
  std::vector<uint8_t> loss_mask;               // sft/sequence: one 0/1 per token; empty otherwise
  std::optional<DpoSpans> dpo;                  // dpo: lengths of prompt ‖ chosen ‖ rejected
  std::map<std::string, std::string> metadata;  // "id", "emotion", "scene"; other keys are ignored
  std::string source;                           // "path:line", used in error messages
};

}  // namespace nf::data
