#!/usr/bin/env bash
# Installs NeuralFlow's build and test dependencies from Debian's packages.
# Idempotent: packages already installed are skipped, and nothing is fetched
# when everything is present. Works as root or through sudo.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format git
  # numerics: libtorch (CPU, 1.13 on Debian 12), a real BLAS, an allocator that keeps freed memory
  libtorch-dev libopenblas0-pthread libjemalloc-dev libjemalloc2
  # distributed + data + config
  libopenmpi-dev openmpi-bin libhdf5-dev libyaml-cpp-dev zlib1g-dev libssl-dev
  # libraries chosen over hand-rolled code
  libcli11-dev nlohmann-json3-dev libicu-dev libsentencepiece-dev libprotobuf-dev protobuf-compiler
  # tests
  googletest libgtest-dev libgmock-dev
  # slurm: a real single-node cluster for the slurm test tier
  slurm-wlm slurm-client slurmctld slurmd
  # python reference tests (run with /usr/bin/python3)
  python3-torch python3-numpy python3-h5py python3-sentencepiece python3-crc32c
  # real corpora for data tests and the quickstart
  bible-kjv bible-kjv-text fortunes-zh
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
