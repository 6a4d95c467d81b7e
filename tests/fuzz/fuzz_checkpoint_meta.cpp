// Fuzz target: a checkpoint's meta.json as a resume reads it: checkpoint_meta_from_json (the ckpt
// layer's keys, read_checkpoint_meta), then trainer_state_from_json on the rest (the trainer's data
// position and counters). It is read, or refused with a CheckpointError naming the file; a meta.json
// that is read writes back (checkpoint_meta_to_json) to JSON that reads as the same CheckpointMeta.
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "fuzz_support.h"
#include "nf/ckpt/checkpoint_meta.h"
#include "trainer_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(nf::fuzz::as_text(data, size));
  std::optional<nf::ckpt::CheckpointMeta> meta;
  nf::fuzz::expect_refusals<nf::CheckpointError>([&] {
    meta = nf::ckpt::checkpoint_meta_from_json(text, "step_1/meta.json");
    nf::train::trainer_state_from_json(meta->trainer_state, "step_1/meta.json");
  });
  if (!meta) return 0;
  nf::fuzz::expect_refusals<>([&] {
    const nlohmann::json written = nf::ckpt::checkpoint_meta_to_json(*meta);
    const auto again = nf::ckpt::checkpoint_meta_from_json(written.dump(), "rewritten");
    if (nf::ckpt::checkpoint_meta_to_json(again) != written) {
      std::fprintf(stderr, "nf fuzz: the meta.json nf writes reads back differently\n");
      std::abort();
    }
  });
  return 0;
}
