// The planner's model (planner.h, docs/memory.md): the bytes one rank of each pipeline stage holds,
// category by category, and the split of a step's time. Every constant is named next to what it
// stands for, and the activation terms live in one function, layer_activation_bytes(), so that
// calibrating against measured peaks means editing one place.
#include "nf/train/planner.h"

#include <algorithm>
#include <string>
#include <vector>

#include "nf/core/error.h"
#include "nf/model/flops.h"
#include "nf/model/sharding.h"
#include "nf/parallel/pp/schedule.h"
#include "nf/parallel/tp/shard.h"
#include "objective.h"

namespace nf::train {
namespace {

constexpr uint64_t kFp32 = 4;         // parameters, gradients, moments, master weights, the residual stream, norms
constexpr uint64_t kBf16 = 2;         // what bf16 autocast produces (matmul outputs and what is computed from them)
constexpr uint64_t kAdamMoments = 2;  // AdamW's exp_avg and exp_avg_sq, fp32 each
constexpr int64_t kZero3GatheredUnits = 2;             // ZeRO 3 holds the unit running and the one prefetched
constexpr double kForwardShareOfTraining = 1.0 / 3.0;  // forward 2, backward 4 FLOPs per weight and token
constexpr double kLmHeadFlopsPerWeight = 6.0;          // the output projection is a matmul even when tied (flops.h)
constexpr double kAttentionCoreForwardFlops = 4.0;     // q·kᵀ and p·v: 2·s·h each, per token and layer

const std::string kEmbedding = "model.embed_tokens.weight";
const std::string kFinalNorm = "model.norm.weight";
const std::string kLmHead = "lm_head.weight";
const std::string kLayerPrefix = "model.layers.";

uint64_t ceil_div(uint64_t value, uint64_t by) { return (value + by - 1) / by; }

// This tp rank's elements of a parameter: its split dimension (sharding.h, the one home of the split)
// padded to a multiple of tp (vocabulary rows; the other splits divide evenly once
// validate_tensor_parallel passed) and divided by tp; replicated tensors whole.
int64_t shard_elements(const model::ModelConfig& decoder, const model::ParameterInfo& info, int64_t tp) {
  const parallel::tp::ShardSpec spec = model::shard_spec_of(decoder, info.name, nullptr);
  int64_t elements = 1;
  for (size_t dim = 0; dim < info.full_shape.size(); ++dim) {
    const int64_t size = info.full_shape[dim];
    elements *= static_cast<int64_t>(dim) == spec.dim ? parallel::tp::padded_size(size, tp) / tp : size;
  }
  return elements;
}

// The model's parameters on one tp rank, grouped as pipeline stages and ZeRO 3 take them.
struct ShardedModel {
  std::vector<int64_t> layers;       // elements of each decoder layer (LoRA's adapters included)
  std::vector<int64_t> lora_layers;  // of those, LoRA's adapters (model.lora; the rest is frozen)
  int64_t embedding = 0, final_norm = 0, lm_head = 0;
  int64_t largest_layer_weight = 0;  // the largest single tensor of a decoder layer
  int64_t largest_adapter = 0;       // the largest single LoRA factor
};

ShardedModel sharded_model(const model::ModelConfig& decoder, int64_t tp) {
  ShardedModel sharded;
  sharded.layers.assign(static_cast<size_t>(decoder.n_layers), 0);
  sharded.lora_layers.assign(static_cast<size_t>(decoder.n_layers), 0);
  for (const model::ParameterInfo& info : model::lora_table(decoder)) {
    const auto layer = static_cast<size_t>(std::stoll(info.name.substr(kLayerPrefix.size())));
    const int64_t elements = shard_elements(decoder, info, tp);
    sharded.lora_layers.at(layer) += elements;
    sharded.layers.at(layer) += elements;
    sharded.largest_adapter = std::max(sharded.largest_adapter, elements);
  }
  for (const model::ParameterInfo& info : model::parameter_table(decoder)) {
    const int64_t elements = shard_elements(decoder, info, tp);
    if (info.name == kEmbedding) {
      sharded.embedding = elements;
    } else if (info.name == kFinalNorm) {
      sharded.final_norm = elements;
    } else if (info.name == kLmHead) {
      sharded.lm_head = elements;
    } else {  // model.layers.{i}.*
      sharded.layers.at(static_cast<size_t>(std::stoll(info.name.substr(kLayerPrefix.size())))) += elements;
      sharded.largest_layer_weight = std::max(sharded.largest_layer_weight, elements);
    }
  }
  return sharded;
}

// A pipeline stage's parameters on one tp rank: its layers, the embedding on the first stage, the
// final norm and lm_head on the last. With tied embeddings and pp > 1 the last stage holds a copy of
// the embedding that is not a parameter (transformer.h): memory, but no gradient or optimizer state.
void count_stage_parameters(const ShardedModel& sharded, bool tied, bool lora, bool first, bool last,
                            StageMemory& stage) {
  int64_t largest = 0, adapters = 0;
  for (int64_t layer = stage.first_layer; layer < stage.first_layer + stage.n_layers; ++layer) {
    const int64_t elements = sharded.layers.at(static_cast<size_t>(layer));
    stage.parameter_elements += elements;
    adapters += sharded.lora_layers.at(static_cast<size_t>(layer));
    largest = std::max(largest, elements);
  }
  // A tied embedding is read by the head too: ZeRO 3 keeps it gathered (pinned) instead.
  if (first) {
    stage.parameter_elements += sharded.embedding;
    if (tied) {
      stage.pinned_elements = sharded.embedding;
    } else {
      largest = std::max(largest, sharded.embedding);
    }
  }
  if (last) {
    stage.parameter_elements += sharded.final_norm + sharded.lm_head;
    if (tied && !first) stage.buffer_elements = sharded.embedding;
    largest = std::max(largest, sharded.final_norm + sharded.lm_head);  // the head's unit
  }
  stage.largest_unit_elements = largest;
  stage.trainable_elements = lora ? adapters : stage.parameter_elements;
  // Backward computes each weight's whole gradient before adding it into the gradient buffer: the
  // largest one (the embedding's or the output layer's, usually) exists beside the buffer for a
  // moment. Under tied embeddings the output layer's is the embedding's size, on the last stage.
  int64_t largest_weight = sharded.largest_layer_weight;
  if (first) largest_weight = std::max(largest_weight, sharded.embedding);
  if (last) largest_weight = std::max(largest_weight, tied ? sharded.embedding : sharded.lm_head);
  stage.largest_weight_elements = lora ? sharded.largest_adapter : largest_weight;  // frozen weights make none
}

// The sizes one micro-batch's activations are made of, on one rank.
struct ActivationShape {
  uint64_t rows = 0;            // b: micro_batch_size × rows per sample
  uint64_t seq = 0;             // s
  uint64_t tokens = 0;          // T = b · s
  uint64_t hidden = 0;          // h = d_model
  uint64_t heads = 0;           // a = n_heads / tp
  uint64_t q_width = 0;         // a · head_dim
  uint64_t kv_width = 0;        // kv_heads / tp · head_dim
  uint64_t ffn = 0;             // f = ffn_dim / tp
  uint64_t vocab = 0;           // V = vocab padded to a multiple of tp, / tp
  uint64_t sequence_split = 1;  // tp under sequence parallelism (the residual stream's positions split), else 1
  uint64_t element = kFp32;     // bytes of a tensor produced under autocast: kBf16 under bf16 autocast
  bool repeats_kv = false;      // GQA: repeat_kv copies k and v to every query head
  bool document_mask = false;   // attention through an explicit mask instead of the fused causal kernel

  uint64_t residual() const { return tokens * hidden / sequence_split; }  // this rank's share of [b, s, h]
};

// Bytes one decoder layer keeps for the backward of one micro-batch, term by term, following
// src/model/layers.cpp. `selective`: attention's core (repeat_kv and SDPA) keeps nothing beyond its
// inputs q, k, v (it runs again in backward).
uint64_t layer_activation_bytes(const ActivationShape& x, bool selective) {
  const uint64_t T = x.tokens, e = x.element, whole = T * x.hidden;
  // RMSNorm, twice (input_layernorm, post_attention_layernorm): x.pow(2) and x·rsqrt keep the fp32
  // input (the residual stream), x·rsqrt keeps rsqrt (one value per position), weight·normalized keeps
  // the normalized tensor. Under sequence parallelism each rank holds its positions only.
  const uint64_t norms = 2 * (2 * x.residual() * kFp32 + T / x.sequence_split * kFp32);
  // The q/k/v projections' input: the norm's fp32 output (under sequence parallelism the gathered
  // whole sequence), one tensor the three share; under autocast each linear keeps its own bf16 cast.
  const uint64_t attention_input = e == kFp32 ? whole * kFp32 : 3 * whole * kBf16;
  // RoPE on q and k: x·cos keeps the projection's output, rotate_half(x)·sin the rotated copy.
  const uint64_t rope = 2 * T * (x.q_width + x.kv_width) * e;
  // SDPA's inputs: q after RoPE, and k, v as the kernel sees them: under GQA repeat_kv's copies, one
  // per query head; without GQA (or when the core is recomputed, which keeps its own inputs) k after
  // RoPE and v's projection output.
  const uint64_t kv_seen = x.repeats_kv && !selective ? x.q_width : x.kv_width;
  const uint64_t attention_core_inputs = T * (x.q_width + 2 * kv_seen) * e;
  // What SDPA keeps besides its inputs: its output and the fp32 log-sum-exp of each query row (the
  // fused causal kernel); with a document mask also the b·a·s·s attention probabilities.
  const uint64_t attention_core_output = T * x.q_width * e;
  const uint64_t attention_core_logsumexp = x.rows * x.heads * x.seq * kFp32;
  const uint64_t attention_core_probabilities = x.document_mask ? x.rows * x.heads * x.seq * x.seq * e : 0;
  const uint64_t attention_core_kept =
      selective ? 0 : attention_core_output + attention_core_logsumexp + attention_core_probabilities;
  // o_proj's input: the context made contiguous as [T, a·head_dim].
  const uint64_t o_proj_input = T * x.q_width * e;
  // The gate/up projections' input, as the q/k/v one: shared in fp32, one bf16 cast each under autocast.
  const uint64_t mlp_input = e == kFp32 ? whole * kFp32 : 2 * whole * kBf16;
  // SwiGLU: silu keeps gate's output, the product keeps silu(gate) and up's output, down_proj keeps
  // the product: four [T, f] tensors.
  const uint64_t swiglu = 4 * T * x.ffn * e;
  // The residual adds keep nothing; the next norm keeps their output (counted above).
  return norms + attention_input + rope + attention_core_inputs + attention_core_kept + o_proj_input + mlp_input +
         swiglu;
}

// Activations of one pipeline stage: per micro-batch in flight, plus what exists once, in backward.
void count_activations(const TrainConfig& config, const Plan& plan, const ActivationShape& x, bool first, bool last,
                       StageMemory& stage) {
  const model::Recompute recompute{config.training.recompute, config.training.recompute_interval};
  const uint64_t none = layer_activation_bytes(x, false);
  const uint64_t kept = layer_activation_bytes(x, recompute.attention_core());
  // A fully recomputed block keeps only its input, the fp32 residual stream.
  const uint64_t full_block_input = x.residual() * kFp32;
  uint64_t per_micro_batch = 0, transient = 0;
  for (int64_t layer = stage.first_layer; layer < stage.first_layer + stage.n_layers; ++layer) {
    // While a block recomputes in backward it holds, for a moment, everything it did not keep.
    if (recompute.full_block(layer)) transient = none;
    per_micro_batch += recompute.full_block(layer) ? full_block_input : kept;
  }
  // The embedding's output, the first block's input as sent on (fp32).
  const uint64_t embedding_output = x.residual() * kFp32;
  // The head: the final norm (as a block's), lm_head's input, the fp32 logits [T, V] and the loss's
  // softmax / log-probabilities of the same size; in backward, once, the logits' gradient.
  const uint64_t head_norm = 2 * x.residual() * kFp32 + x.tokens / x.sequence_split * kFp32;
  const uint64_t head_input = x.tokens * x.hidden * x.element;
  const uint64_t logits_and_softmax = 2 * x.tokens * x.vocab * kFp32;
  const uint64_t logits_gradient = x.tokens * x.vocab * kFp32;
  if (first) per_micro_batch += embedding_output;
  if (last) {
    per_micro_batch += head_norm + head_input + logits_and_softmax;
    transient += logits_gradient;
  }
  transient += static_cast<uint64_t>(stage.largest_weight_elements) * kFp32;
  stage.activations_per_micro_batch = per_micro_batch;
  stage.activations = static_cast<uint64_t>(stage.in_flight) * per_micro_batch + transient;
  // Pipeline p2p: one activation received and one sent, [b, s/tp under SP, h] fp32; sequence
  // parallelism's gather: one whole [b, s, h] transient at a time.
  if (plan.pp > 1) stage.comm_buffers += 2 * x.residual() * kFp32;
  if (x.sequence_split > 1) stage.comm_buffers += x.tokens * x.hidden * x.element;
}

// Parameters, gradients, optimizer state and master weights by ZeRO stage (docs/memory.md#zero).
void count_states(const TrainConfig& config, const Plan& plan, StageMemory& stage) {
  const auto P = static_cast<uint64_t>(stage.parameter_elements);
  const auto T = static_cast<uint64_t>(stage.trainable_elements);  // P, or under LoRA the adapters
  const auto shard = ceil_div(T, static_cast<uint64_t>(plan.dp));  // this dp rank's flat shard
  const auto unit = static_cast<uint64_t>(stage.largest_unit_elements);
  const int64_t zero = plan.zero;
  const uint64_t buffer = static_cast<uint64_t>(stage.buffer_elements) * kFp32;
  const auto pinned = static_cast<uint64_t>(stage.pinned_elements);
  const uint64_t gathered = kZero3GatheredUnits * unit + pinned;  // ZeRO 3's full parameters at once
  stage.parameters = (zero == 3 ? shard * kFp32 + gathered * kFp32 : P * kFp32) + buffer;
  // Autocast caches a bf16 cast of every weight a forward uses (of the gathered units under ZeRO 3)
  // that requires gradients: under LoRA the adapters only (frozen weights are cast again each time).
  if (plan.bf16_autocast) stage.parameters += (zero == 3 ? gathered : T) * kBf16;
  // DPO's frozen reference: a second fp32 copy of the stage, without gradients (under LoRA the
  // policy's own base, with its adapters off: nothing more).
  const ObjectiveSpec& objective = find_objective(config.training.objective);
  if (objective.name == "dpo" && !config.model.lora.enabled()) stage.parameters += (P * kFp32) + buffer;
  // The local gradient buffer stays whole (as Megatron's distributed optimizer's); ZeRO 2/3 add
  // the reduce-scattered shard. Only what trains has gradients and optimizer state.
  stage.gradients = T * kFp32 + (zero >= 2 ? shard * kFp32 : 0);
  stage.optimizer = kAdamMoments * kFp32 * (zero == 0 ? T : shard);
  stage.master = zero == 1 || zero == 2 ? shard * kFp32 : 0;  // ZeRO 3's shard is counted as the parameters
  // ZeRO 1 copies its chunks of the all-reduced gradients out of the buffer for the update
  // (GradSync::shard_grads); ZeRO 2/3 update from the reduce-scatter's output itself.
  stage.step_transient = zero == 1 ? shard * kFp32 : 0;
}

// One pipeline stage's step time (docs/memory.md#step-time).
StepTime stage_step_time(const TrainConfig& config, const Plan& plan, const ActivationShape& x, bool first, bool last,
                         const StageMemory& stage) {
  const model::ModelConfig& decoder = config.model;
  const ObjectiveSpec& objective = find_objective(config.training.objective);
  const double tokens = static_cast<double>(plan.micro_batches) * static_cast<double>(x.tokens);  // this dp rank's
  const double lm_head_flops = kLmHeadFlopsPerWeight * static_cast<double>(decoder.vocab_size * decoder.d_model);
  const double layer_flops = (model::training_flops_per_token(decoder, config.training.seq_len) - lm_head_flops) /
                             static_cast<double>(decoder.n_layers);
  const double stage_flops = layer_flops * static_cast<double>(stage.n_layers) + (last ? lm_head_flops : 0.0);
  const double flops_per_second = plan.peak_tflops * 1e12 * plan.efficiency;
  const auto tp = static_cast<double>(plan.tp);
  StepTime time;
  time.compute_s = stage_flops * objective.flops_factor * tokens / tp / flops_per_second;
  // Recomputation re-runs forwards of the training rows (not DPO's reference).
  const model::Recompute recompute{config.training.recompute, config.training.recompute_interval};
  double recomputed_flops = 0;
  for (int64_t layer = stage.first_layer; layer < stage.first_layer + stage.n_layers; ++layer) {
    if (recompute.full_block(layer)) recomputed_flops += kForwardShareOfTraining * layer_flops;
    if (recompute.attention_core()) {
      recomputed_flops += kAttentionCoreForwardFlops * static_cast<double>(x.seq * x.hidden);
    }
  }
  time.recompute_s = recomputed_flops * tokens / tp / flops_per_second;
  time.compute_s += time.recompute_s;

  const double bytes_per_second = plan.bandwidth_gbps * 1e9;
  const auto dp = static_cast<double>(plan.dp);
  const double m = static_cast<double>(plan.micro_batches);
  // dp (ring collectives): an all-reduce moves 2(dp−1)/dp of the buffer, a reduce-scatter or an
  // all-gather (dp−1)/dp. ZeRO 0/1 all-reduce the gradients, ZeRO 2/3 reduce-scatter them; ZeRO 1/2
  // all-gather the updated parameters; ZeRO 3 all-gathers them before each forward and each backward.
  const double fp32_parameters = static_cast<double>(stage.parameter_elements) * kFp32;
  const double one_pass = (dp - 1) / dp * fp32_parameters;
  const int64_t zero = plan.zero;
  double dp_bytes = zero <= 1 ? 2 * one_pass : one_pass;
  if (zero == 1 || zero == 2) dp_bytes += one_pass;
  if (zero == 3) dp_bytes += 2 * m * one_pass;
  time.dp_comm_s = dp_bytes / bytes_per_second;
  // tp: per layer and micro-batch, two all-reduces in forward (the row-parallel outputs, autocast's
  // dtype) and two in backward (the column-parallel inputs' gradients, fp32), each 2(tp−1)/tp of
  // [b, s, h]; sequence parallelism's gathers and reduce-scatters move the same.
  const double tp_share = 2 * (tp - 1) / tp * static_cast<double>(x.tokens * x.hidden);
  const double tp_per_layer = 2 * tp_share * static_cast<double>(x.element) + 2 * tp_share * kFp32;
  time.tp_comm_s = static_cast<double>(stage.n_layers) * m * tp_per_layer / bytes_per_second;
  // pp: per micro-batch, the activation sent on (but from the last stage) and its gradient sent back
  // (but from the first), each this rank's [b, s, h] in fp32.
  const int sends = plan.pp > 1 ? (last ? 0 : 1) + (first ? 0 : 1) : 0;
  time.pp_comm_s = m * sends * static_cast<double>(x.residual() * kFp32) / bytes_per_second;
  // Fill and drain idle (pp − 1) of the m + pp − 1 slots: (pp − 1)/m of the compute.
  time.bubble_s = time.compute_s * static_cast<double>(plan.pp - 1) / m;
  return time;
}

ActivationShape activation_shape(const TrainConfig& config, const Plan& plan) {
  const model::ModelConfig& decoder = config.model;
  const auto tp = static_cast<uint64_t>(plan.tp);
  ActivationShape x;
  x.rows = static_cast<uint64_t>(plan.rows_per_micro_batch);
  x.seq = static_cast<uint64_t>(config.training.seq_len);
  x.tokens = x.rows * x.seq;
  x.hidden = static_cast<uint64_t>(decoder.d_model);
  x.heads = static_cast<uint64_t>(decoder.n_heads) / tp;
  x.q_width = x.heads * static_cast<uint64_t>(decoder.head_dim());
  x.kv_width = static_cast<uint64_t>(decoder.kv_heads()) / tp * static_cast<uint64_t>(decoder.head_dim());
  x.ffn = static_cast<uint64_t>(decoder.ffn_dim()) / tp;
  x.vocab = static_cast<uint64_t>(parallel::tp::padded_size(decoder.vocab_size, plan.tp)) / tp;
  x.sequence_split = config.parallel.sequence_parallel ? tp : 1;
  x.element = plan.bf16_autocast ? kBf16 : kFp32;
  x.repeats_kv = decoder.kv_heads() != decoder.n_heads;
  x.document_mask = config.training.document_mask;
  return x;
}

}  // namespace

bool bf16_autocast_on(const TrainConfig& config, const c10::Device& device) {
  return device.is_cuda() && config.training.dtype != Precision::kFp32;
}

uint64_t Plan::peak_bytes() const { return peak_stage().total(); }

const StageMemory& Plan::peak_stage() const {
  NF_CHECK(!stages.empty(), Error, "the plan has no pipeline stage");
  return *std::max_element(stages.begin(), stages.end(),
                           [](const StageMemory& a, const StageMemory& b) { return a.total() < b.total(); });
}

Plan make_plan(const TrainConfig& config, int64_t world_size, const PlanOptions& options) {
  const dist::MeshShape mesh = dist::MeshShape::resolve(config.parallel, world_size);
  const TrainingConfig& t = config.training;
  Plan plan;
  plan.tp = mesh.tp();
  plan.pp = mesh.pp();
  plan.dp = mesh.dp();
  plan.zero = config.parallel.zero;
  plan.recompute = t.recompute;
  plan.recompute_interval = t.recompute_interval;
  plan.micro_batches = std::max<int64_t>(1, t.global_batch_size / (t.micro_batch_size * plan.dp));
  plan.rows_per_micro_batch = t.micro_batch_size * find_objective(t.objective).rows_per_sample;
  plan.bf16_autocast = options.bf16_autocast;
  plan.peak_assumed = options.peak_tflops <= 0 && t.peak_tflops <= 0;
  plan.peak_tflops =
      options.peak_tflops > 0 ? options.peak_tflops : (t.peak_tflops > 0 ? t.peak_tflops : kAssumedPeakTflops);
  plan.efficiency = options.efficiency;
  plan.bandwidth_gbps = options.bandwidth_gbps;

  const ActivationShape x = activation_shape(config, plan);
  const ShardedModel sharded = sharded_model(config.model, plan.tp);
  const auto partition = parallel::pp::partition_layers(config.model.n_layers, plan.pp, config.parallel.pp_layers);
  for (int64_t s = 0; s < plan.pp; ++s) {
    const bool first = s == 0, last = s == plan.pp - 1;
    StageMemory stage;
    stage.stage = s;
    stage.first_rank = mesh.rank({0, 0, s});
    stage.last_rank = mesh.rank({plan.tp - 1, plan.dp - 1, s});
    stage.first_layer = partition[static_cast<size_t>(s)].first;
    stage.n_layers = partition[static_cast<size_t>(s)].count;
    // Without a pipeline, micro-batches run one after another (gradient accumulation).
    stage.in_flight = plan.pp == 1 ? 1
                                   : parallel::pp::peak_in_flight(parallel::pp::make_schedule(
                                         config.parallel.pp_schedule, plan.pp, s, plan.micro_batches));
    count_stage_parameters(sharded, config.model.tie_embeddings, config.model.lora.enabled(), first, last, stage);
    count_states(config, plan, stage);
    count_activations(config, plan, x, first, last, stage);
    const StepTime time = stage_step_time(config, plan, x, first, last, stage);
    if (time.total_s() > plan.step.total_s()) plan.step = time;
    plan.stages.push_back(stage);
  }
  return plan;
}

uint64_t predicted_peak_bytes(const TrainConfig& config, int64_t world_size, int64_t stage,
                              const PlanOptions& options) {
  const Plan plan = make_plan(config, world_size, options);
  NF_CHECK(stage >= 0 && stage < plan.pp, UsageError, "pipeline stage ", stage, " is not one of the ", plan.pp,
           " stages of parallel.pp");
  return plan.stages[static_cast<size_t>(stage)].total();
}

bool fits(const Plan& plan, const MemoryLimit& limit) { return limit.bytes == 0 || plan.peak_bytes() <= limit.bytes; }

}  // namespace nf::train
