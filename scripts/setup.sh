#!/usr/bin/env bash
# Installs NeuralFlow's build and test dependencies: system libraries from Debian's packages, and
# the Python side (torch 2.11.0 with its LibTorch, transformers, tensorboard, …) from PyPI into the
# project's virtual environment .venv/ (or $NF_VENV), pinned by scripts/requirements.txt.
# Idempotent: packages already installed are skipped, and nothing is fetched when everything is
# present. Works as root or through sudo.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format git
  # an allocator that keeps freed memory (LibTorch, with its MKL, comes from PyPI: below)
  libjemalloc-dev libjemalloc2
  # distributed + data + config
  libopenmpi-dev openmpi-bin libhdf5-dev libyaml-cpp-dev zlib1g-dev libssl-dev
  # libraries chosen over hand-rolled code
  libcli11-dev nlohmann-json3-dev libicu-dev libsentencepiece-dev libprotobuf-dev protobuf-compiler
  # tests; clang and its libFuzzer runtime for the fuzz tier (tests/fuzz)
  googletest libgtest-dev libgmock-dev clang libclang-rt-14-dev
  # slurm: a real single-node cluster for the slurm test tier
  slurm-wlm slurm-client slurmctld slurmd
  # real corpora for data tests and the quickstart
  bible-kjv bible-kjv-text fortunes-zh
  # English text for the tokenizer and nf-shard build benchmarks (scripts/bench_shard.sh)
  fortunes
  # the interpreter the virtual environment is made from, where none is installed
  python3 python3-venv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
else
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$root/scripts/setup_python.sh"
echo "setup: done"
