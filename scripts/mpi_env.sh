# Sourced by scripts that launch ranks on one machine: lets OpenMPI run as root (containers,
# CI), allows more ranks than cores, and keeps oversubscribed ranks from spinning or fighting
# over BLAS threads (DESIGN.md: without these, steps run 3–4x slower).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
