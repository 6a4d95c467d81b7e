# shellcheck shell=bash
# Environment for NeuralFlow batch jobs, sourced by jobs/launch.sh (every jobs/*.slurm template)
# and usable by hand before mpirun. One place for the OpenMP, OpenMPI and NCCL settings of a
# cluster; edit here. A variable already set in the submitting shell wins (sbatch exports it).

# Threads per rank: the job's --cpus-per-task, for ATen's OpenMP pool and OpenBLAS's own pool.
# Idle OpenMP threads sleep instead of spinning: spinning pools slow CPU training 2-5x
# (docs/training.md, "Threads on CPU").
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$OMP_NUM_THREADS}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# OpenMPI: ranks waiting in a collective yield their core (CPU nodes are often oversubscribed).
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}

# NCCL (GPU jobs): warnings only; INFO prints the topology and the rings chosen.
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
# Pick the fabric when NCCL's own choice is wrong, e.g.:
# export NCCL_SOCKET_IFNAME=ib0          # interface for bootstrap and socket transport
# export NCCL_IB_HCA=mlx5_0,mlx5_1       # InfiniBand adapters to use
# export NCCL_IB_DISABLE=1               # no InfiniBand: sockets only
# export NCCL_NET_GDR_LEVEL=PHB          # GPUDirect RDMA up to the PCIe host bridge
# export NCCL_DEBUG_SUBSYS=INIT,NET      # with NCCL_DEBUG=INFO: which parts to trace
