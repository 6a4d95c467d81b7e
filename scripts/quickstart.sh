#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the main job on the
# bundled default data, end to end, on several ranks.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
build=${NF_BUILD_DIR:-$root/build}
source "$root/scripts/mpi_env.sh"
ranks=${NF_RANKS:-4}
cd "$root"

echo "== nf-train: resolve and validate the tiny pretraining config on $ranks ranks"
mpirun -n "$ranks" "$build/src/nf-train" --config configs/pretrain_tiny.yaml --dry-run
echo "== resolved config: runs/pretrain_tiny/config.yaml"
head -n 14 runs/pretrain_tiny/config.yaml
