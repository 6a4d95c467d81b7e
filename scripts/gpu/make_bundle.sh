#!/usr/bin/env bash
# Builds the dependency bundle for a GPU machine that has PyTorch, a C++ compiler, CMake and ninja
# but no Debian packages and no network: the Debian 12 packages NeuralFlow's build needs (OpenMPI,
# HDF5, yaml-cpp, ICU, protobuf, ...) and the libraries they need at run time, each unpacked with
# `dpkg -x` into one tree, trimmed, and packed as one .tar.xz small enough to travel with the
# working tree (the device tool carries at most 64 MiB). scripts/gpu/bundle_env.sh unpacks it there
# into any directory and points the build at it.
#
#   scripts/gpu/make_bundle.sh [--out FILE] [--limit-mib N]
#     --out        the bundle (default .gpu-bundle/deps.tar.xz in the repository root)
#     --limit-mib  fail when the bundle is larger (default 60: 64 MiB less room for the working tree)
#
# Needs: apt-get and dpkg of Debian 12 (bookworm) x86-64, and Debian's package servers (exit status 3
# where they are not reachable). Runs as root or as a user; the package lists go to a private
# directory, the system's apt state is not touched.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$root/.gpu-bundle/deps.tar.xz limit_mib=60
usage() { echo "usage: $0 [--out FILE] [--limit-mib N]" >&2; exit 2; }
while (($#)); do
  case $1 in
    --out) (($# >= 2)) || usage; out=$2; shift ;;
    --limit-mib) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; limit_mib=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
  shift
done
for tool in apt-get apt-cache dpkg-deb xz; do
  command -v "$tool" >/dev/null || { echo "make_bundle: $tool is missing: this runs on Debian 12 (apt, dpkg, xz-utils)" >&2; exit 1; }
done
[[ $(dpkg --print-architecture) == amd64 ]] || { echo "make_bundle: the GPU machine is x86-64; this one is $(dpkg --print-architecture)" >&2; exit 1; }

# What NeuralFlow's build finds (cmake/Dependencies.cmake), as Debian packages: the one list.
packages=(
  libopenmpi-dev openmpi-bin                # MPI::MPI_CXX, mpicxx (FindMPI), mpirun for the tests
  libhdf5-dev hdf5-helpers                  # HDF5 C (FindHDF5 asks h5cc)
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libicu-dev libsentencepiece-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev zlib1g-dev libssl-dev libjemalloc-dev
  pkgconf                                   # pkg_check_modules(sentencepiece)
)
# Pulled in by those packages but not needed to build or run nf there (prefixes of package names):
# the compiler, binutils and C/C++ runtime (the GPU machine has its own), Fortran, Perl and
# autotools, hwloc's X11/OpenCL plugins, ssh, user management, documentation, googletest's sources
# (libgtest-dev ships the built libraries) and ICU's data-building tools.
unneeded='^(gcc|g\+\+|cpp|binutils|libc6|libc-dev-bin|linux-libc-dev|libcrypt-dev|libnsl-dev|libtirpc-dev|rpcsvc-proto|libstdc\+\+|libgcc|libasan|libtsan|libubsan|liblsan|libitm|libatomic|libquadmath|libgomp|libcc1-|libisl|libmpc|libmpfr|libctf|libbinutils|libgprofng|libjansson|make|dpkg-dev|libdpkg-perl|gfortran|libgfortran|libhdf5-fortran|libhdf5-hl-fortran|perl|libperl|libgdbm|autoconf|automake|autotools-dev|m4|libhwloc-plugins|libx11-|libxcb|libxau|libxdmcp|libxext|libxnvctrl|ocl-icd-|libjs-|openssh-client|libfido2-|libcbor|libedit|adduser|passwd|libsemanage|libsepol|googletest|icu-devtools)'

work=$(mktemp -d /tmp/nf_bundle.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
: >"$work/status"
# A private apt state: fresh package lists from the system's sources, and an empty dpkg status, so
# that the resolver computes the closure as for an empty system, whatever is installed here.
apt_options=(-o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o Dir::State::status="$work/status"
  -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
apt-get "${apt_options[@]}" update -qq >"$work/update.log" 2>&1 ||
  { cat "$work/update.log" >&2; echo "make_bundle: apt-get update failed: Debian's servers are not reachable from here" >&2; exit 3; }
# closure PACKAGE...: every package an installation of PACKAGE... onto an empty system brings.
closure() {
  apt-get "${apt_options[@]}" -s install --no-install-recommends "$@" | awk '/^Inst /{print $2}' | sort -u
}
wanted=$(closure "${packages[@]}")
# The Essential packages (coreutils, dpkg, util-linux, ...) and what they need are on every Debian
# and Ubuntu system, with the same library sonames: those libraries are left to the GPU machine.
mapfile -t essential_packages < <(apt-cache "${apt_options[@]}" dumpavail | awk '/^Package:/{p=$2} /^Essential: yes/{print p}' | sort -u)
essential=$(closure "${essential_packages[@]}")
bundle=$(comm -23 <(echo "$wanted") <(echo "$essential") | grep -Ev "$unneeded")
# A -dev package's link (libz.so -> libz.so.1.2.13) needs its own library even where Essential has it.
mapfile -t dev_packages < <(grep -- '-dev$' <<<"$bundle")
dev_runtimes=$(apt-cache "${apt_options[@]}" depends --no-recommends --no-suggests "${dev_packages[@]}" |
  awk '$1 ~ /Depends:$/ && $2 !~ /^<|-dev$/ {print $2}' | sort -u | grep -Ev "$unneeded" | comm -12 - <(echo "$wanted"))
bundle=$(sort -u <<<"$bundle"$'\n'"$dev_runtimes")

mapfile -t bundle_packages <<<"$bundle"
(cd "$work/debs" && apt-get "${apt_options[@]}" download "${bundle_packages[@]}" >"$work/download.log" 2>&1) ||
  { cat "$work/download.log" >&2; echo "make_bundle: apt-get download failed" >&2; exit 1; }
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
prefix=$work/root lib=$work/root/usr/lib/x86_64-linux-gnu
# Merged /usr, as on current Debian and Ubuntu: what some packages put in /lib goes to /usr/lib.
for dir in lib bin sbin; do
  if [[ -d $prefix/$dir ]]; then
    cp -a "$prefix/$dir/." "$prefix/usr/$dir/"
    rm -rf "${prefix:?}/$dir"
    ln -s "usr/$dir" "$prefix/$dir"
  fi
done

# The links that Debian's maintainer scripts make with update-alternatives (dpkg -x runs none).
alternatives=(
  usr/bin/mpicc:mpicc.openmpi usr/bin/mpicxx:mpicxx.openmpi usr/bin/mpic++:mpic++.openmpi
  usr/bin/mpirun:mpirun.openmpi usr/bin/mpiexec:mpiexec.openmpi
  usr/include/x86_64-linux-gnu/mpi:../../lib/x86_64-linux-gnu/openmpi/include
  usr/lib/x86_64-linux-gnu/libmpi.so:openmpi/lib/libmpi.so usr/lib/x86_64-linux-gnu/libmpi++.so:openmpi/lib/libmpi_cxx.so
  usr/lib/x86_64-linux-gnu/pkgconfig/mpi.pc:../openmpi/lib/pkgconfig/ompi.pc
  usr/lib/x86_64-linux-gnu/pkgconfig/mpi-c.pc:../openmpi/lib/pkgconfig/ompi-c.pc
  usr/lib/x86_64-linux-gnu/pkgconfig/mpi-cxx.pc:../openmpi/lib/pkgconfig/ompi-cxx.pc
  usr/lib/x86_64-linux-gnu/pkgconfig/hdf5.pc:hdf5-serial.pc
  usr/lib/x86_64-linux-gnu/libpsm_infinipath.so.1:../libpsm1/libpsm_infinipath.so.1.16
)
for entry in "${alternatives[@]}"; do
  link=$prefix/${entry%%:*} target=${entry#*:}
  [[ -e $(dirname "$link")/$target ]] || { echo "make_bundle: alternative $link -> $target: no such file" >&2; exit 1; }
  ln -sfn "$target" "$link"
done

# Trim what nf does not use: documentation, sources, libtool archives, static libraries except
# googletest's (it ships no shared ones), and OpenMPI's and HDF5's Fortran and Java pieces (their
# runtimes are left out).
rm -rf "$prefix"/usr/share/{doc,man,info,lintian,locale,bug,doc-base} "$prefix/usr/src" "$lib/fortran"
rm -f "$prefix"/usr/bin/{mpif77,mpif90,mpifort,mpijavac,h5fc}* "$lib"/pkgconfig/ompi-f*.pc "$lib"/hdf5/serial/*fortran* \
  "$lib"/openmpi/lib/{libmpi_mpifh,libmpi_usempi,libmpi_java,mpi.jar,shmem.jar}* "$lib"/openmpi/lib/pkgconfig/ompi-f*.pc \
  "$lib"/{libmpi_mpifh,libmpi_usempi,libmpi_java,libhdf5_serial_fortran,libhdf5_serialhl_fortran}*
find "$prefix" \( -name '*.la' -o -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' \) -delete
# Absolute links into /usr must point inside the bundle wherever it is unpacked: make them relative.
find "$prefix" -type l -lname '/*' | while read -r link; do
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$prefix$(readlink "$link")")" "$link"
done
dangling=$(find "$prefix" -xtype l -printf '%P -> %l\n')
[[ -z $dangling ]] || { echo "make_bundle: links to files the bundle lacks:"$'\n'"$dangling" >&2; exit 1; }

# The library directories: the multiarch one and those the bundle's RUNPATHs name (OpenMPI's, UCX's),
# which bundle_env.sh puts on LD_LIBRARY_PATH, since those RUNPATHs say /usr.
elves=$(find "$prefix/usr" -type f \( -name '*.so*' -o -perm -u+x \) -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print)
{ echo usr/lib/x86_64-linux-gnu
  xargs readelf -d <<<"$elves" 2>/dev/null | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p' | tr : '\n' | sed -n 's#^/usr/#usr/#p'
} | sort -u | while read -r dir; do [[ ! -d $prefix/$dir ]] || echo "$dir"; done >"$prefix/library_dirs.txt"
library_path=$(sed "s#^#$prefix/#" "$prefix/library_dirs.txt" | paste -sd:)
# Every shared library and program finds what it links against in the bundle, or in the Essential
# packages and the C++ compiler's runtime, which every Debian or Ubuntu system with a compiler has.
base_libraries=$'libstdc++6\nlibgcc-s1\nlibatomic1\n'"$essential"
# "file soname resolved-path" for every library each bundled ELF file loads ("not" where not found)
links=$(while read -r elf; do
  LD_LIBRARY_PATH=$library_path ldd "$elf" </dev/null 2>/dev/null | awk -v elf="${elf#"$prefix"/}" '$2 == "=>" {print elf, $1, $3}' || true
done <<<"$elves")
elf_problems=$(awk '$3 == "not" {print $1 ": " $2 " not found"}' <<<"$links"
  awk -v bundle="$prefix/" '$3 != "not" && index($3, bundle) != 1 {print $3}' <<<"$links" | sort -u | while read -r found; do
    # dpkg knows a file by the path its package gave, /lib or /usr/lib
    owner=$( (dpkg -S "$found" || dpkg -S "${found#/usr}" || dpkg -S "/usr$found") 2>/dev/null | head -1 | cut -d: -f1) || true
    grep -qx "${owner%%,*}" <<<"$base_libraries" ||
      echo "$found (${owner:-no package}), loaded by $(awk -v f="$found" '$3 == f {print $1}' <<<"$links" | head -3 | paste -sd' ') ..."
  done)
[[ -z $elf_problems ]] ||
  { echo "make_bundle: libraries the bundle lacks (add their packages to packages=):"$'\n'"$elf_problems" >&2; exit 1; }

# Text files that name the install prefix /usr where CMake, pkg-config and h5cc read it: the prefix
# becomes @NF_BUNDLE_PREFIX@, which bundle_env.sh replaces with the directory it unpacks into.
# A path starts a line or a value (after a space, = " ' : ; or (), or follows -I or -L.
usr_path='(^|[[:space:]="'"'"':;(]|-I|-L)/usr(/|"|$)'
grep -rlIE "$usr_path" "$lib/pkgconfig" "$lib/openmpi/lib/pkgconfig" "$lib/cmake" "$prefix/usr/share/cmake" \
  "$prefix/usr/bin/h5cc" "$prefix/usr/bin/h5c++" | sort >"$work/relocate"
while read -r file; do sed -i -E "s#$usr_path#\1@NF_BUNDLE_PREFIX@/usr\2#g" "$file"; done <"$work/relocate"
sed "s#^$prefix/##" "$work/relocate" >"$prefix/relocate.txt"
for deb in "$work"/debs/*.deb; do dpkg-deb --show --showformat="\${Package} \${Version}\n" "$deb"; done >"$prefix/packages.txt"

mkdir -p "$(dirname "$out")"
tar -C "$prefix" -cf - . | xz -T0 -2 >"$out.partial"  # -2: within 10% of -9's size, 4x faster
mv "$out.partial" "$out"
size=$(stat -c %s "$out")
echo "make_bundle: $out: $(numfmt --to=iec-i --suffix=B "$size") ($(du -sh --apparent-size "$prefix" | cut -f1) unpacked)," \
  "$(wc -l <"$prefix/packages.txt") packages:"
cut -d' ' -f1 "$prefix/packages.txt" | paste -sd' ' | fold -s -w 100 | sed 's/^/  /'
if ((size > limit_mib * 1024 * 1024)); then
  echo "make_bundle: the bundle is over the ${limit_mib} MiB limit: drop packages or files it does not need" >&2
  exit 1
fi
