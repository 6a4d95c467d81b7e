// nf-ckpt: checkpoint tools.
//
//   nf-ckpt inspect FILE.safetensors   names, dtypes, shapes and byte ranges, without reading data
//   nf-ckpt consolidate STEP_DIR OUT   a training checkpoint of any layout as the one-rank checkpoint
//                                      (full tensors and optimizer state) that nf-train resumes anywhere
//   nf-ckpt export-hf STEP_DIR OUT [--dtype bf16|fp16|fp32] [--tokenizer PATH]
//                                      a training checkpoint (any layout) as a Hugging Face Llama directory
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "nf/ckpt/hf_export.h"
#include "nf/ckpt/safetensors.h"
#include "nf/core/cli.h"
#include "nf/core/error.h"
#include "nf/data/manifest.h"
#include "nf/dist/job.h"
#include "nf/train/config.h"
#include "nf/train/reshard.h"

namespace {

void export_checkpoint(const std::string& step_dir, const std::string& out_dir, const std::string& dtype,
                       std::string tokenizer) {
  const nf::train::TrainConfig config = nf::train::load_train_config(step_dir + "/config.yaml", {}, {});
  if (tokenizer.empty() && std::filesystem::exists(config.data.train_path + "/manifest.json")) {
    const nf::data::Manifest manifest = nf::data::read_manifest(config.data.train_path);
    const std::string path = config.data.train_path + "/" + manifest.tokenizer.file;
    if (std::filesystem::exists(path)) tokenizer = path;  // datasets from nf-shard build carry it
  }
  const nf::ckpt::StateDict state = nf::train::consolidate_model(step_dir);
  nf::ckpt::export_hf(
      out_dir, config.model, state,
      nf::ckpt::HfExportOptions().with_dtype(nf::ckpt::parse_export_dtype(dtype)).with_tokenizer_path(tokenizer));
  std::cout << "exported " << state.size() << " tensors of " << step_dir << " to " << out_dir << " (" << dtype
            << (tokenizer.empty() ? ", no tokenizer" : ", tokenizer " + tokenizer) << ")\n";
  for (const auto& entry : std::filesystem::directory_iterator(out_dir)) {
    std::cout << "  " << entry.path().filename().string() << "  " << std::filesystem::file_size(entry.path())
              << " bytes\n";
  }
}

void consolidate(const std::string& step_dir, const std::string& out_dir) {
  const size_t tensors = nf::train::consolidate_checkpoint(step_dir, out_dir);
  const nf::train::CheckpointMeta meta = nf::train::read_checkpoint_meta(out_dir);
  std::cout << "consolidated " << tensors << " parameters and their optimizer state of " << step_dir << " (step "
            << meta.step << ") into " << out_dir << "\n";
  for (const auto& entry : std::filesystem::directory_iterator(out_dir)) {
    std::cout << "  " << entry.path().filename().string() << "  " << std::filesystem::file_size(entry.path())
              << " bytes\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  return nf::dist::run_job(argc, argv, [](const nf::dist::JobContext& job) {
    CLI::App app{"nf-ckpt: checkpoint tools", job.program};
    app.require_subcommand(1);
    std::string file;
    CLI::App* inspect = app.add_subcommand("inspect", "list the tensors of a safetensors file (header only)");
    inspect->add_option("file", file, "a .safetensors file")->required();
    inspect->callback([&] { std::cout << nf::ckpt::describe(nf::ckpt::SafetensorsFile(file)); });
    std::string step_dir, out_dir, dtype = "bf16", tokenizer;
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
    export_hf->callback([&] { export_checkpoint(step_dir, out_dir, dtype, tokenizer); });
    return nf::run_cli(app, job.args);
  });
}
