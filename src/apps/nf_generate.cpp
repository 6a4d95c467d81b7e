// nf-generate: text from a trained model (docs/generation.md).
//
//   nf-generate --model MODEL [--prompt TEXT]... [--prompts FILE.jsonl] [--out FILE.jsonl] [options]
//   mpirun -n 2 nf-generate --parallel.tp 2 --model MODEL ...
//
// MODEL is an nf checkpoint (a step directory, a checkpoints directory or a run directory, saved at
// any layout) or a Hugging Face Llama directory. One JSON line per prompt comes out, in order. A
// neuralflow checkpoint continues each prompt paragraph by paragraph instead (generate_paragraphs.h).
#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "generate_paragraphs.h"
#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/hf_import.h"
#include "nf/ckpt/initial_weights.h"
#include "nf/ckpt/training_dataset.h"
#include "nf/core/atomic_file.h"
#include "nf/core/cli.h"
#include "nf/core/error.h"
#include "nf/data/prompts.h"
#include "nf/data/tokenizer_loader.h"
#include "nf/data/utf8.h"
#include "nf/dist/job.h"
#include "nf/dist/mesh.h"
#include "nf/dist/rank_device.h"
#include "nf/model/generation.h"

namespace {

namespace fs = std::filesystem;

struct Arguments {
  std::string model, tokenizer, prompts_file, out, chat_template;
  std::vector<std::string> prompts, stop_strings;
  nf::model::GenerationOptions generation;
  int64_t tp = 1;
  bool ignore_eos = false;
  bool no_kv_cache = false;
  std::string emotions;    // neuralflow: --emotion
  int64_t paragraphs = 1;  // neuralflow: --paragraphs
};

// Where the weights, the model's shape, the tokenizer and the chat template come from.
struct Source {
  std::string weights;  // a step directory or a Hugging Face directory
  nf::model::ModelConfig config;
  std::string tokenizer;
  std::string chat_template;
};

Source resolve_source(const Arguments& args) {
  NF_CHECK(fs::exists(args.model), nf::UsageError, "--model '", args.model,
           "' does not exist: pass an nf checkpoint (step, checkpoints or run directory) or a Hugging Face directory");
  Source source;
  const bool hf = fs::exists(fs::path(args.model) / "config.json") && !fs::exists(fs::path(args.model) / "meta.json");
  if (hf) {
    source.weights = args.model;
    source.config = nf::ckpt::read_hf_model_config(args.model);
    source.tokenizer = args.model;
  } else {
    source.weights = nf::ckpt::resolve_load_from(args.model, "");
    source.config = nf::ckpt::read_model_layout(source.weights).model;
    const nf::ckpt::TrainingDataset dataset = nf::ckpt::training_dataset_of(source.weights);
    source.tokenizer = dataset.tokenizer;
    source.chat_template = dataset.chat_template;
  }
  if (!args.tokenizer.empty()) source.tokenizer = args.tokenizer;
  if (!args.chat_template.empty()) source.chat_template = args.chat_template;
  NF_CHECK(!source.tokenizer.empty(), nf::UsageError, "no tokenizer found for '", args.model,
           "' (its training dataset, data.train_path of its config.yaml, is not where the run left it); "
           "pass --tokenizer PATH");
  return source;
}

std::vector<nf::data::Document> read_all_prompts(const Arguments& args) {
  std::vector<nf::data::Document> prompts;
  for (size_t i = 0; i < args.prompts.size(); ++i) {
    NF_CHECK(nf::data::find_invalid_utf8(args.prompts[i]) == std::string::npos, nf::UsageError, "--prompt ", i + 1,
             " is not valid UTF-8: pass UTF-8 text (convert with iconv)");
    prompts.push_back(nf::data::plain_prompt(args.prompts[i], "--prompt " + std::to_string(i + 1)));
  }
  if (!args.prompts_file.empty()) {
    for (auto& prompt : nf::data::read_prompts(args.prompts_file)) prompts.push_back(std::move(prompt));
  }
  NF_CHECK(!prompts.empty(), nf::UsageError, "no prompt: pass --prompt TEXT or --prompts FILE.jsonl");
  return prompts;
}

int generate(const nf::dist::JobContext& job, Arguments args) {
  const auto start = std::chrono::steady_clock::now();
  args.generation.kv_cache = !args.no_kv_cache;
  nf::model::validate(args.generation);
  NF_CHECK(args.tp >= 1 && job.world_size == args.tp, nf::UsageError, "nf-generate runs on exactly --parallel.tp (",
           args.tp, ") ranks, but was launched on ", job.world_size, ": use mpirun -n ", args.tp);
  const Source source = resolve_source(args);
  const std::unique_ptr<nf::data::Tokenizer> tokenizer = nf::data::load_tokenizer_with(source.tokenizer, nullptr);
  NF_CHECK(tokenizer->vocab_size() <= source.config.vocab_size, nf::UsageError, "tokenizer '", source.tokenizer,
           "' has ", tokenizer->vocab_size(), " tokens, more than the model's vocabulary (", source.config.vocab_size,
           "): pass the tokenizer the model was trained with (--tokenizer)");
  if (source.config.neuralflow()) {
    ParagraphRequest request;
    request.weights = source.weights;
    request.config = source.config;
    request.tokenizer = tokenizer.get();
    request.prompts = args.prompts;
    request.prompts_file = args.prompts_file;
    request.emotions = args.emotions;
    request.paragraphs = args.paragraphs;
    request.temperature = args.generation.sampling.temperature;
    request.seed = args.generation.sampling.seed;
    request.out = args.out;
    return generate_paragraphs(job, request);
  }
  const std::optional<nf::data::ChatTemplateKind> chat =
      source.chat_template.empty()
          ? std::nullopt
          : std::optional(nf::data::parse_chat_template(source.chat_template, "--chat-template"));

  const std::vector<nf::data::Document> prompts = read_all_prompts(args);
  const std::vector<std::vector<int64_t>> prompt_ids =
      nf::data::encode_prompts(prompts, *tokenizer, chat, source.config.max_seq_len);
  if (!args.ignore_eos) {
    const std::vector<nf::data::TokenId> stops = nf::data::completion_stop_tokens(*tokenizer, prompts, chat);
    args.generation.stop_tokens.assign(stops.begin(), stops.end());
  }

  nf::dist::ParallelConfig parallel;
  parallel.tp = args.tp;
  const c10::Device device = nf::dist::rank_device(job);
  const nf::dist::Mesh mesh(nf::dist::MeshShape::resolve(parallel, job.world_size), MPI_COMM_WORLD,
                            std::chrono::milliseconds(static_cast<int64_t>(parallel.collective_timeout_s * 1000)),
                            device);
  nf::model::CausalLM model(source.config, args.tp > 1 ? &mesh.tp() : nullptr);
  model->to(device);
  nf::ckpt::load_model_weights(source.weights, model->config(), model->tp(), nf::model::named_parameters(*model));
  model->eval();
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto generation_start = std::chrono::steady_clock::now();

  const std::vector<std::string>& stops = args.stop_strings;
  std::ostringstream out;
  int64_t new_tokens = 0;
  const auto stop = [&](size_t, const std::vector<int64_t>& tokens) {
    if (stops.empty()) return false;
    const std::string text = tokenizer->decode(std::vector<nf::data::TokenId>(tokens.begin(), tokens.end()));
    return std::any_of(stops.begin(), stops.end(), [&](const std::string& s) { return text.find(s) != text.npos; });
  };
  const nf::model::GenerationOptions& options = args.generation;
  const std::vector<nf::model::Generated> results = nf::model::generate(*model, prompt_ids, options, stop);
  for (size_t i = 0; i < results.size(); ++i) {
    const nf::model::Generated& result = results[i];
    new_tokens += static_cast<int64_t>(result.tokens.size());
    nlohmann::ordered_json record = {
        {"prompt", nf::data::prompt_text(prompts[i])},
        {"completion", nf::data::completion_text(*tokenizer, result.tokens, options.stop_tokens, stops)},
        {"finish_reason", result.finish_reason},
        {"prompt_tokens", prompt_ids[i]},
        {"tokens", result.tokens}};
    if (options.logprobs) record["logprobs"] = result.logprobs;
    out << record.dump() << "\n";
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - generation_start).count();
  if (job.rank == 0) {
    if (args.out.empty()) {
      std::cout << out.str() << std::flush;
    } else {
      nf::write_file_atomic(args.out, out.str());
    }
    std::ostringstream summary;
    summary.setf(std::ios::fixed);
    summary.precision(2);
    summary << "nf-generate: " << prompts.size() << " prompt(s), " << new_tokens << " new tokens in " << seconds
            << " s (" << static_cast<double>(new_tokens) / seconds << " tokens/s; loading " << load_seconds
            << " s), tp " << args.tp << ", " << device.str() << ", batches of " << args.generation.batch_size
            << (args.generation.kv_cache ? ", KV cache" : ", no KV cache") << "\n";
    std::cerr << summary.str();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nf::dist::run_job(argc, argv, [](const nf::dist::JobContext& job) {
    CLI::App app{"nf-generate: text from a trained model (docs/generation.md)", job.program};
    Arguments args;
    nf::model::GenerationOptions& g = args.generation;
    // A repeated option takes its last value (scripts append overrides); --prompt and --stop collect.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("--model", args.model,
                   "an nf checkpoint (step, checkpoints or run directory; any layout) or a Hugging Face Llama "
                   "directory")
        ->required();
    app.add_option("--tokenizer", args.tokenizer,
                   "tokenizer.json or a directory holding one; default: the checkpoint's training dataset's, or "
                   "the Hugging Face directory's");
    app.add_option("--prompt", args.prompts, "a prompt (plain text); may be repeated")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("--prompts", args.prompts_file,
                   "JSONL of {\"prompt\": text} or {\"messages\": [{\"role\", \"content\"}, ...]} records");
    app.add_option("--chat-template", args.chat_template,
                   "nf, llama3 or chatml, for messages; default: the template of the checkpoint's sft/dpo data");
    app.add_option("--out", args.out, "write the JSONL here (default: standard output)");
    app.add_option("--batch-size", g.batch_size, "prompts run together (default 8)");
    app.add_option("--max-new-tokens", g.max_new_tokens, "at most this many new tokens per prompt (default 64)");
    app.add_option("--temperature", g.sampling.temperature, "0 = greedy (default); > 0 samples");
    app.add_option("--top-k", g.sampling.top_k, "sample among the k likeliest tokens (default 0 = all)");
    app.add_option("--top-p", g.sampling.top_p,
                   "sample among the likeliest tokens of this total probability "
                   "(default 1 = all)");
    app.add_option("--seed", g.sampling.seed, "prompt i samples with seed + i (default 1234)");
    app.add_option("--stop", args.stop_strings, "end a completion at this text (cut before it); may be repeated")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_flag("--ignore-eos", args.ignore_eos, "do not stop at the end-of-sequence or end-of-turn token");
    app.add_flag("--no-kv-cache", args.no_kv_cache, "run the whole sequence for every new token (slow; a reference)");
    app.add_flag("--logprobs", g.logprobs, "add each new token's log-probability to the output");
    app.add_option("--emotion", args.emotions,
                   "neuralflow: the emotion each continuation is decoded with: a label of model.emotions, several "
                   "separated by commas (a line each), or all; default none");
    app.add_option("--paragraphs", args.paragraphs, "neuralflow: new paragraphs per prompt (default 1)");
    app.add_option("--parallel.tp", args.tp, "tensor-parallel ranks (launch that many with mpirun; default 1)");
    int code = 0;
    app.callback([&] { code = generate(job, args); });
    const int parsed = nf::run_cli(app, job.args);
    return parsed != 0 ? parsed : code;
  });
}
