"""What the points of a sweep share, built once into RESULTS/inputs/: the bundled corpus (the KJV bible
and the Tang poems, scripts/prepare_corpus.sh), a byte-level BPE of corpus.vocab_size ids that
nf-shard trains on it, and the pretraining dataset nf-shard builds with it. Each is built under a
temp name and renamed, under the results directory's lock, so concurrent Slurm jobs build it once.
"""
import os
import shutil

from .launch import run_command
from .store import locked


class Inputs:
    def __init__(self, root, build, results_dir):
        self.root, self.build = root, build
        self.directory = os.path.join(results_dir, "inputs")
        os.makedirs(self.directory, exist_ok=True)

    def _once(self, name, make):
        """The path of input `name`, made by make(tmp_path) the first time."""
        path = os.path.join(self.directory, name)
        with locked(self.directory):
            if not os.path.exists(path):
                tmp = path + ".tmp"
                shutil.rmtree(tmp, ignore_errors=True)
                make(tmp)
                os.replace(tmp, path)
        return path

    def corpus(self):
        return self._once("corpus", lambda tmp: run_command(
            ["bash", os.path.join(self.root, "scripts/prepare_corpus.sh"), tmp], tmp + ".log", 600))

    def corpus_files(self):
        corpus = self.corpus()
        return [os.path.join(corpus, name) for name in ("kjv.txt", "tang.txt")]

    def tokenizer(self, vocab_size):
        files = self.corpus_files()
        return self._once(f"tokenizer-{vocab_size}", lambda tmp: run_command(
            [self.tool("data_tools/nf-shard"), "tokenizer", "train", "--vocab-size", vocab_size, "--input", *files,
             "--out", tmp], tmp + ".log", 1800))

    def dataset(self, vocab_size):
        tokenizer = self.tokenizer(vocab_size)
        corpus = self.corpus()
        return self._once(f"pretrain-{vocab_size}", lambda tmp: run_command(
            [self.tool("data_tools/nf-shard"), "build", "--input", corpus, "--tokenizer", tokenizer, "--format",
             "pretrain", "--out", tmp, "--quiet"], tmp + ".log", 1800))

    def tool(self, relative):
        """A program of the build, e.g. tool("src/nf-train"); a clear error when it is not built."""
        path = os.path.join(self.build, relative)
        if not os.access(path, os.X_OK):
            raise FileNotFoundError(f"{path} is not built; run scripts/build.sh (or cmake --build {self.build} "
                                    f"--target {os.path.basename(relative)}), or pass --build DIR")
        return path
