#include "tied_embedding.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "nf/dist/p2p_tags.h"

namespace nf::train {
namespace {

constexpr int kGradTag = dist::p2p_tags::kTiedEmbeddingGrad;
constexpr int kWeightTag = dist::p2p_tags::kTiedEmbeddingWeight;

}  // namespace

TiedEmbedding::TiedEmbedding(model::CausalLM& model, const dist::Mesh& mesh) : model_(model) {
  if (mesh.pp().size() == 1 || !model->config().tie_embeddings) return;
  pp_ = &mesh.pp();
  last_ = pp_->size() - 1;
}

void TiedEmbedding::send_output_grad() {
  if (pp_ == nullptr || pp_->rank() != last_ || model_->has_lora()) return;  // LoRA: the embedding is frozen
  at::Tensor weight = model_->tied_output_weight();
  at::Tensor grad = weight.grad().defined() ? weight.grad().contiguous() : at::zeros_like(weight);
  pp_->send(grad, first_, kGradTag)->wait();
  if (weight.grad().defined()) weight.mutable_grad().zero_();
}

void TiedEmbedding::add_output_grad() {
  if (pp_ == nullptr || pp_->rank() != first_ || model_->has_lora()) return;
  at::Tensor weight = model_->model->embed_tokens->weight;
  at::Tensor received = at::empty_like(weight);
  pp_->recv(received, last_, kGradTag)->wait();
  at::NoGradGuard no_grad;
  weight.mutable_grad().add_(received);  // the flat gradient buffer's view (parallel/dp)
}

void TiedEmbedding::sync_weight() {
  if (pp_ == nullptr) return;
  at::NoGradGuard no_grad;
  if (pp_->rank() == first_) {
    at::Tensor weight = model_->model->embed_tokens->weight.detach().contiguous();
    pp_->send(weight, last_, kWeightTag)->wait();
  } else if (pp_->rank() == last_) {
    at::Tensor received = at::empty_like(model_->tied_output_weight());
    pp_->recv(received, first_, kWeightTag)->wait();
    model_->tied_output_weight().detach().copy_(received);
  }
}

}  // namespace nf::train
