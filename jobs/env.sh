# Environment for NeuralFlow batch jobs, sourced by every jobs/*.slurm template (and usable by
# hand before mpirun). One place for the NCCL and OpenMPI settings of a cluster; edit here.

# OpenMPI: ranks yield the core while waiting (they are often oversubscribed on CPU nodes), and
# failed MPI calls are reported by NeuralFlow with context rather than aborted silently.
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
# One BLAS/OpenMP thread per rank unless the job asks for more (cpus-per-task).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$OMP_NUM_THREADS}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# NCCL: warnings by default (INFO to debug topology), async error handling so a failed peer ends
# the collective instead of hanging it. Set NCCL_SOCKET_IFNAME / NCCL_IB_HCA for your fabric.
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
export TORCH_NCCL_ASYNC_ERROR_HANDLING=${TORCH_NCCL_ASYNC_ERROR_HANDLING:-1}
