#!/usr/bin/env bash
# clang-format (the repository's .clang-format) over every C++ source and header the project owns:
# the files git tracks as *.cpp, *.h, *.cu, *.cuh, minus third-party and generated ones.
#   scripts/format.sh                  format them in place
#   scripts/format.sh --check          change nothing: list the files clang-format would change and
#                                      exit 1 if there are any (the test nf_lint_format)
#   scripts/format.sh [--check] FILE...  the same for these files only
# CLANG_FORMAT names another binary (default clang-format; CI has Debian's, version 14: other
# versions may format some lines differently).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=0
if [[ ${1:-} == --check ]]; then
  check=1
  shift
fi
[[ ${1:-} == -* ]] && { echo "usage: scripts/format.sh [--check] [FILE...]" >&2; exit 2; }
clang_format=${CLANG_FORMAT:-clang-format}
command -v "$clang_format" >/dev/null ||
  { echo "format.sh: $clang_format not found; scripts/setup.sh installs it (Debian's clang-format)" >&2; exit 2; }

# Not the project's to format: vendored code and what generators write (none tracked today).
not_owned='(^|/)(third_party|external|generated)/|\.pb\.(h|cc)$'
cd "$root"
if (($# > 0)); then
  files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | grep -Ev "$not_owned")
else  # a source tarball without .git
  mapfile -t files < <(find src include tests bench data_tools scripts \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' \
    -o -name '*.cuh' \) | sort | grep -Ev "$not_owned")
fi

if ((check == 0)); then
  printf '%s\0' "${files[@]}" | xargs -0 -r "$clang_format" -i --style=file
  echo "format.sh: formatted ${#files[@]} files with $("$clang_format" --version)"
  exit 0
fi

differ=()
for file in "${files[@]}"; do
  "$clang_format" --dry-run --Werror --style=file "$file" >/dev/null 2>&1 || differ+=("$file")
done
if ((${#differ[@]} > 0)); then
  printf '%s\n' "${differ[@]}"
  echo "format.sh: ${#differ[@]} of ${#files[@]} files differ from clang-format's output ($("$clang_format" --version));" \
    "run scripts/format.sh to format them (scripts/format.sh FILE... for some), and look at the diff"
  exit 1
fi
echo "format.sh: ${#files[@]} files, all formatted"
