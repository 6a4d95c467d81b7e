// The dependency probe of scripts/gpu/check.sh: built with the bundle's mpicxx and pkg-config flags
// for HDF5 and yaml-cpp, and run as `mpirun -n 2 probe FILE.h5`, it shows that what nf links
// against compiles, links, loads and works there before the long build starts: an all-reduce over
// the ranks, an HDF5 file that rank 0 writes and every rank reads back, and a YAML document parsed.
#include <hdf5.h>
#include <mpi.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int rank_sum = 0;
  MPI_Allreduce(&rank, &rank_sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  bool ok = argc == 2 && rank_sum == size * (size - 1) / 2;

  const std::vector<int> written = {3, 1, 4, 1, 5, 9, 2, 6};
  if (ok && rank == 0) {
    const hsize_t dims[1] = {written.size()};
    const hid_t file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    const hid_t set = H5Dcreate2(file, "tokens", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok = file >= 0 && set >= 0 && H5Dwrite(set, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, written.data()) >= 0;
    H5Dclose(set);
    H5Sclose(space);
    H5Fclose(file);
  }
  MPI_Barrier(MPI_COMM_WORLD);  // the file is complete before any rank opens it
  std::vector<int> read(written.size(), -1);
  if (ok) {
    const hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t set = H5Dopen2(file, "tokens", H5P_DEFAULT);
    ok = file >= 0 && set >= 0 && H5Dread(set, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, read.data()) >= 0 &&
         read == written;
    H5Dclose(set);
    H5Fclose(file);
  }
  const YAML::Node config = YAML::Load("model: {d_model: 64, layers: [1, 2, 3]}");
  ok = ok && config["model"]["d_model"].as<int>() == 64 && config["model"]["layers"].size() == 3;

  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  int all_ok = 0, mine = ok ? 1 : 0;
  MPI_Allreduce(&mine, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rank == 0) {
    std::printf("probe: %d ranks, all-reduce %s, HDF5 %u.%u.%u write/read, yaml-cpp parse: %s\n", size,
                rank_sum == size * (size - 1) / 2 ? "ok" : "WRONG", major, minor, release, all_ok ? "ok" : "FAILED");
  }
  MPI_Finalize();
  return all_ok ? 0 : 1;
}
