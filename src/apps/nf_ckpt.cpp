// nf-ckpt: checkpoint tools.
//
//   nf-ckpt inspect FILE.safetensors   names, dtypes, shapes and byte ranges, without reading data
//   nf-ckpt inspect STEP_DIR           step, layout, data position, every file checked against its
//                                      SHA-256 in meta.json, and their tensors (exit 4 if one is damaged)
//   nf-ckpt consolidate STEP_DIR OUT   a training checkpoint of any layout as the one-rank checkpoint
//                                      (full tensors and optimizer state) that nf-train resumes anywhere
//   nf-ckpt export-hf STEP_DIR OUT [--dtype bf16|fp16|fp32] [--tokenizer PATH] [--max-shard-size 5GB]
//                                      a training checkpoint (any layout) as a Hugging Face Llama directory
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <set>

#include "nf/ckpt/hf_export.h"
#include "nf/ckpt/safetensors.h"
#include "nf/core/cli.h"
#include "nf/core/error.h"
#include "nf/data/bpe_files.h"
#include "nf/data/dataset_builder.h"
#include "nf/data/manifest.h"
#include "nf/dist/job.h"
#include "nf/train/checkpoint.h"
#include "nf/train/config.h"
#include "nf/train/reshard.h"

namespace {

// The files a command wrote, sorted, with their sizes.
void list_files(const std::string& dir) {
  std::set<std::filesystem::path> files(std::filesystem::directory_iterator(dir), {});
  for (const auto& file : files)
    std::cout << "  " << file.filename().string() << "  " << std::filesystem::file_size(file) << " bytes\n";
}

void export_checkpoint(const std::string& step_dir, const std::string& out_dir, const std::string& dtype,
                       std::string tokenizer, const std::string& max_shard_size) {
  const uint64_t max_shard_bytes = nf::data::parse_byte_size(max_shard_size, "--max-shard-size");
  const nf::train::TrainConfig config = nf::train::load_train_config(step_dir + "/config.yaml", {}, {});
  if (tokenizer.empty() && std::filesystem::exists(config.data.train_path + "/manifest.json")) {
    const nf::data::Manifest manifest = nf::data::read_manifest(config.data.train_path);
    const std::string path = config.data.train_path + "/" + manifest.tokenizer.file;
    if (std::filesystem::exists(path)) tokenizer = path;  // datasets from nf-shard build carry it
  }
  nf::ckpt::HfExportOptions options = nf::ckpt::HfExportOptions()
                                          .with_dtype(nf::ckpt::parse_export_dtype(dtype))
                                          .with_tokenizer_path(tokenizer)
                                          .with_max_shard_bytes(max_shard_bytes);
  const std::filesystem::path json = std::filesystem::is_directory(tokenizer)
                                         ? std::filesystem::path(tokenizer) / "tokenizer.json"
                                         : std::filesystem::path(tokenizer);
  if (!tokenizer.empty() && json.extension() == ".json" && std::filesystem::exists(json)) {
    // A tokenizer.json's bos, eos and pad ids and tokens: without them transformers takes
    // LlamaConfig's defaults (bos 1, eos 2), which are other tokens of nf's tokenizers. (A
    // sentencepiece .model would need nf_sentencepiece, which is never linked with LibTorch.)
    const std::unique_ptr<nf::data::BpeTokenizer> loaded = nf::data::load_bpe_tokenizer_json(json.string());
    if (const auto id = loaded->special(nf::data::SpecialRole::kBos))
      options.with_bos_token_id(*id).bos_token = loaded->decode({*id});
    if (const auto id = loaded->special(nf::data::SpecialRole::kEos))
      options.with_eos_token_id(*id).eos_token = loaded->decode({*id});
    if (const auto id = loaded->special(nf::data::SpecialRole::kPad))
      options.with_pad_token_id(*id).pad_token = loaded->decode({*id});
  }
  // One output file's parameters at a time: the whole model is never in memory at once.
  nf::train::ModelReader reader(step_dir);
  const auto read = [&reader](const std::vector<std::string>& names) { return reader.read(names); };
  nf::ckpt::export_hf(out_dir, config.model, read, options);
  std::cout << "exported " << nf::ckpt::hf_parameter_shapes(config.model).size() << " tensors of " << step_dir
            << " to " << out_dir << " (" << dtype << (tokenizer.empty() ? ", no tokenizer" : ", tokenizer " + tokenizer)
            << ")\n";
  list_files(out_dir);
}

void inspect(const std::string& path) {
  if (!std::filesystem::is_directory(path)) {
    std::cout << nf::ckpt::describe(nf::ckpt::SafetensorsFile(path));
    return;
  }
  const int damaged = nf::train::inspect_checkpoint(path, std::cout);
  NF_CHECK(damaged == 0, nf::CheckpointError, damaged, " file(s) of '", path,
           "' are missing or do not match their SHA-256 in meta.json");
}

void consolidate(const std::string& step_dir, const std::string& out_dir) {
  const size_t tensors = nf::train::consolidate_checkpoint(step_dir, out_dir);
  const nf::train::CheckpointMeta meta = nf::train::read_checkpoint_meta(out_dir);
  std::cout << "consolidated " << tensors << " parameters and their optimizer state of " << step_dir << " (step "
            << meta.step << ") into " << out_dir << "\n";
  list_files(out_dir);
}

}  // namespace

int main(int argc, char** argv) {
  return nf::dist::run_job(argc, argv, [](const nf::dist::JobContext& job) {
    CLI::App app{"nf-ckpt: checkpoint tools", job.program};
    app.require_subcommand(1);
    std::string file;
    CLI::App* inspect_command = app.add_subcommand(
        "inspect", "list a safetensors file's tensors (header only), or check and list a checkpoint's step directory");
    inspect_command->add_option("path", file, "a .safetensors file or a step directory")->required();
    inspect_command->callback([&] { inspect(file); });
    std::string step_dir, out_dir, dtype = "bf16", tokenizer, max_shard_size = "5GB";
    CLI::App* consolidate_command = app.add_subcommand(
        "consolidate", "write a checkpoint of any layout as one full checkpoint that nf-train resumes at any layout");
    consolidate_command->add_option("checkpoint", step_dir, "a step directory, e.g. runs/x/checkpoints/step_200")
        ->required();
    consolidate_command->add_option("out", out_dir, "the step directory to create")->required();
    consolidate_command->callback([&] { consolidate(step_dir, out_dir); });
    CLI::App* export_hf = app.add_subcommand("export-hf", "write a checkpoint as a Hugging Face Llama directory");
    export_hf->add_option("checkpoint", step_dir, "a step directory, e.g. runs/x/checkpoints/step_200")->required();
    export_hf->add_option("out", out_dir, "the directory to create")->required();
    export_hf->add_option("--dtype", dtype, "bf16, fp16 or fp32 (default bf16)");
    export_hf->add_option("--tokenizer", tokenizer,
                          "tokenizer file or directory; default: the training dataset's (data.train_path)");
    export_hf->add_option("--max-shard-size", max_shard_size,
                          "split larger weights into files of at most this size and an index, e.g. 2GB (default 5GB)");
    export_hf->callback([&] { export_checkpoint(step_dir, out_dir, dtype, tokenizer, max_shard_size); });
    return nf::run_cli(app, job.args);
  });
}
