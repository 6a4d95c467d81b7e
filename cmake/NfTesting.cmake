# Test registration helpers. Every test gets a label (unit, mpi, e2e, slurm) so a tier runs alone
# (`ctest -L mpi`), and a timeout so that a hang fails the test instead of stalling CI.

# The environment that keeps oversubscribed ranks from spinning (DESIGN.md: without it steps run
# 3–4× slower), that lets OpenMPI run as root inside containers and CI, and NF_PYTHON: the
# project's Python (torch 2.11 and the ecosystem libraries) for the test scripts.
set(NF_MPI_TEST_ENVIRONMENT
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
    OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
    NF_PYTHON=${NF_PYTHON})

# The launcher prefix for N ranks, as a list: mpirun -n N --oversubscribe --bind-to none.
function(nf_mpi_launcher out_var ranks)
  set(${out_var} ${MPIEXEC_EXECUTABLE} -n ${ranks} --oversubscribe --bind-to none PARENT_SCOPE)
endfunction()

# nf_add_unit_test(NAME SOURCES a.cpp ... [TIMEOUT s] [LIBRARY lib]): one GoogleTest binary, one
# process, linked with `lib` (default nf; nf_base for tests that must stay free of LibTorch).
function(nf_add_unit_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT;LIBRARY" "SOURCES" ${ARGN})
  if(NOT ARG_LIBRARY)
    set(ARG_LIBRARY nf)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARY} nf_warnings GTest::gtest GTest::gtest_main)
  if(ARG_LIBRARY MATCHES "^nf(_ckpt|_train)?$")
    nf_use_torch_pch(${name})
  endif()
  target_compile_definitions(${name} PRIVATE NF_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT ${ARG_TIMEOUT}
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1")
endfunction()

# nf_add_mpi_test(NAME RANKS n [m ...] SOURCES a.cpp ... [TIMEOUT s] [LABEL l] [LIBRARY lib]): a
# GoogleTest binary with an MPI main (tests/support/mpi_test_main.cpp), registered once per rank
# count as NAME_np<n> and run as `mpirun -n n`. mpirun's own --timeout
# ends every rank a little before CTest's timeout would, so a hang fails with a report and leaves
# no orphaned ranks behind.
function(nf_add_mpi_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT;LABEL;LIBRARY" "RANKS;SOURCES" ${ARGN})
  if(NOT ARG_LIBRARY)
    set(ARG_LIBRARY nf)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 180)
  endif()
  if(NOT ARG_LABEL)
    set(ARG_LABEL mpi)
  endif()
  add_executable(${name} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/support/mpi_test_main.cpp)
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARY} nf_warnings GTest::gtest)
  if(ARG_LIBRARY MATCHES "^nf(_ckpt|_train)?$")
    nf_use_torch_pch(${name})
  endif()
  target_compile_definitions(${name} PRIVATE NF_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  math(EXPR mpirun_timeout "${ARG_TIMEOUT} - 5")
  foreach(ranks IN LISTS ARG_RANKS)
    nf_mpi_launcher(launcher ${ranks})
    add_test(NAME ${name}_np${ranks} COMMAND ${launcher} --timeout ${mpirun_timeout} $<TARGET_FILE:${name}>)
    set_tests_properties(${name}_np${ranks} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT} PROCESSORS 2
                         ENVIRONMENT "${NF_MPI_TEST_ENVIRONMENT}")
  endforeach()
endfunction()

# nf_add_script_test(NAME SCRIPT file LABEL l [TIMEOUT s] [ARGS ...]): a bash test script that
# drives the programs as a user would. It receives the build and source directories.
function(nf_add_script_test name)
  cmake_parse_arguments(ARG "" "SCRIPT;LABEL;TIMEOUT" "ARGS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND bash ${ARG_SCRIPT} ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${ARG_ARGS})
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT} PROCESSORS 2
                       ENVIRONMENT "${NF_MPI_TEST_ENVIRONMENT};MPIEXEC=${MPIEXEC_EXECUTABLE}")
endfunction()
