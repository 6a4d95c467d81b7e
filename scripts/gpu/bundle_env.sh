# Sourced (bash): unpacks the dependency bundle that scripts/gpu/make_bundle.sh built into DIR,
# once, and exports what makes CMake, pkg-config, OpenMPI and the programs built against the bundle
# find it there: PATH, LD_LIBRARY_PATH, CMAKE_PREFIX_PATH, CPATH, PKG_CONFIG_PATH, MPI_HOME, and
# OpenMPI's and PMIx's relocation variables.
#
#   source scripts/gpu/bundle_env.sh BUNDLE.tar.xz DIR
#
# The bundle keeps Debian's layout under DIR/usr; the files that name their install prefix carry a
# placeholder (relocate.txt lists them), replaced here by DIR. OpenMPI relocates through
# OPAL_PREFIX (all but its configuration directory), PMIx through PMIX_PKGLIBDIR (its
# components); their RUNPATHs say /usr, so their library directories go on LD_LIBRARY_PATH.
nf_bundle_load() {
  local bundle=$1 dir=$2 stamp
  [[ -f $bundle ]] || { echo "bundle_env: no bundle at $bundle: build it with scripts/gpu/make_bundle.sh" >&2; return 1; }
  stamp="$(stat -c '%s %Y' "$bundle") $bundle"
  if [[ $(cat "$dir/.unpacked" 2>/dev/null) != "$stamp" ]]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    # Python's tarfile: xz-utils need not be installed where the bundle is unpacked.
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="tar")' "$bundle" "$dir" ||
      { echo "bundle_env: could not unpack $bundle into $dir" >&2; return 1; }
    dir=$(cd "$dir" && pwd)
    (cd "$dir" && xargs -d '\n' sed -i "s#@NF_BUNDLE_PREFIX@#$dir#g" <relocate.txt) ||
      { echo "bundle_env: could not relocate the files relocate.txt lists in $dir" >&2; return 1; }
    echo "$stamp" >"$dir/.unpacked"
  fi
  dir=$(cd "$dir" && pwd)
  local usr=$dir/usr multiarch=$dir/usr/lib/x86_64-linux-gnu
  export NF_BUNDLE_DIR=$dir
  export PATH=$usr/bin${PATH:+:$PATH}
  local library_path
  library_path=$(sed "s#^#$dir/#" "$dir/library_dirs.txt" | paste -sd:)
  export LD_LIBRARY_PATH=$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # The config directories too, for a compiler that CMake does not see as multiarch.
  export CMAKE_PREFIX_PATH=$usr:$multiarch/cmake:$usr/share/cmake${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export CMAKE_LIBRARY_PATH=$multiarch${CMAKE_LIBRARY_PATH:+:$CMAKE_LIBRARY_PATH}
  # The compiler looks in the multiarch include and library directories under /usr only (Debian's
  # openssl/configuration.h is there): name the bundle's.
  export CPATH=$usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}
  export LIBRARY_PATH=$multiarch${LIBRARY_PATH:+:$LIBRARY_PATH}
  export PKG_CONFIG_PATH=$multiarch/pkgconfig:$multiarch/openmpi/lib/pkgconfig:$usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export MPI_HOME=$usr OPAL_PREFIX=$usr OPAL_SYSCONFDIR=$dir/etc/openmpi
  export PMIX_PKGLIBDIR=$multiarch/pmix2/lib/pmix PMIX_PKGDATADIR=$multiarch/pmix2/share/pmix
  # hwloc's plugins (X11, OpenCL, PCI) are not in the bundle: load none, not a system copy.
  export HWLOC_PLUGINS_PATH=$multiarch/hwloc
}
nf_bundle_load "$@"
