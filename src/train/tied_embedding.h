// Tied input/output embeddings across pipeline stages. The first stage owns
// model.embed_tokens.weight (the parameter: optimizer, checkpoints, gradient norm see it once);
// the last stage computes its logits with a copy (CausalLM::tied_output_weight). Each step the
// last stage sends the copy's gradient to the first, which adds it to the embedding's gradient
// before its last backward (so dp reduction and ZeRO see the sum), and after every update the
// first stage sends the new weight back. A no-op unless pp > 1 and the embeddings are tied.
// Private to src/train.
#pragma once

#include "nf/dist/mesh.h"
#include "nf/model/transformer.h"

namespace nf::train {

class TiedEmbedding {
 public:
  TiedEmbedding(model::CausalLM& model, const dist::Mesh& mesh);

  // Last stage, after its backward: send the copy's gradient and zero it.
  void send_output_grad();
  // First stage, before its last backward: add the last stage's gradient to the embedding's.
  void add_output_grad();
  // After an update, a resume or initialization: the last stage's copy := the embedding.
  void sync_weight();

 private:
  model::CausalLM& model_;
  dist::Communicator* pp_ = nullptr;  // null when inactive
  int first_ = 0, last_ = 0;
};

}  // namespace nf::train
