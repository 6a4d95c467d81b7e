# Finds NeuralFlow's dependencies, all from Debian's packages (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(GTest REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(Protobuf REQUIRED)
# ICU's Unicode character classes drive the BPE pre-tokenizer (\p{L}, \p{N}, \s of the GPT-2 pattern).
find_package(ICU REQUIRED COMPONENTS uc)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)

# LibTorch: PyTorch 2.11's, from the Python that has it (scripts/setup.sh installs torch==2.11.0,
# the CUDA build, into the project's .venv). One LibTorch, one code path: Debian's 1.13 is not used.
set(NF_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH "A Python with torch ${NF_TORCH_REQUIRED} (scripts/setup.sh makes .venv)")
string(CONCAT NF_TORCH_INSTALL_HINT "run scripts/setup.sh (it installs torch==${NF_TORCH_REQUIRED}.0 into "
       "${PROJECT_SOURCE_DIR}/.venv), or `${NF_PYTHON} -m pip install torch==${NF_TORCH_REQUIRED}.0`, or configure "
       "with -DNF_PYTHON=<a python3 that has torch ${NF_TORCH_REQUIRED}>")
execute_process(COMMAND "${NF_PYTHON}" -c "import torch; print(torch.__version__); print(torch.utils.cmake_prefix_path)"
                OUTPUT_VARIABLE NF_TORCH_QUERY ERROR_VARIABLE NF_TORCH_QUERY_ERROR RESULT_VARIABLE NF_TORCH_QUERY_RESULT
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT NF_TORCH_QUERY_RESULT EQUAL 0)
  string(REGEX REPLACE ".*\n([^\n]+)\n?$" "\\1" NF_TORCH_QUERY_ERROR "\n${NF_TORCH_QUERY_ERROR}")
  message(FATAL_ERROR "NeuralFlow needs PyTorch ${NF_TORCH_REQUIRED}'s LibTorch, and NF_PYTHON=${NF_PYTHON} gives none "
                      "(${NF_TORCH_QUERY_ERROR}): ${NF_TORCH_INSTALL_HINT}")
endif()
string(REPLACE "\n" ";" NF_TORCH_QUERY "${NF_TORCH_QUERY}")
list(GET NF_TORCH_QUERY 0 NF_TORCH_PYTHON_VERSION)
list(GET NF_TORCH_QUERY 1 NF_TORCH_PREFIX)
string(REGEX MATCH "^[0-9]+\\.[0-9]+" NF_TORCH_FOUND_VERSION "${NF_TORCH_PYTHON_VERSION}")
if(NOT NF_TORCH_FOUND_VERSION VERSION_EQUAL NF_TORCH_REQUIRED)
  message(FATAL_ERROR "NeuralFlow needs torch ${NF_TORCH_REQUIRED}, and NF_PYTHON=${NF_PYTHON} has torch "
                      "${NF_TORCH_PYTHON_VERSION}: ${NF_TORCH_INSTALL_HINT}")
endif()
# The CUDA build's TorchConfig looks for the CUDA toolkit; /usr/local/cuda is where it is here.
if(NOT DEFINED CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
  set(CUDAToolkit_ROOT /usr/local/cuda)
endif()
find_package(Torch REQUIRED PATHS "${NF_TORCH_PREFIX}" NO_DEFAULT_PATH)
# TorchConfig's imported targets carry compile flags; keep its headers out of our warnings.
add_library(nf_torch INTERFACE)
target_link_libraries(nf_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(nf_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
# PyPI's libtorch.so exports std::filesystem functions from the libstdc++ it was built with
# (pytorch/pytorch#133437), and its remove_all crashes when called from outside. A program's
# libraries are searched in the order of its NEEDED entries, so libstdc++ goes first: ahead of
# libtorch, its own std::filesystem is the one every call binds to.
target_link_options(nf_torch INTERFACE "LINKER:--push-state,--no-as-needed" -lstdc++ "LINKER:--pop-state")

# CUDA: NF_WITH_CUDA=AUTO follows libtorch. The NCCL backend sources compile whenever the CUDA
# toolkit and nccl.h are found, even against a CPU-only libtorch, so CI at least compiles them.
set(NF_TORCH_HAS_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(NF_TORCH_HAS_CUDA ON)
endif()
if(NF_WITH_CUDA STREQUAL "AUTO")
  set(NF_CUDA_ENABLED ${NF_TORCH_HAS_CUDA})
else()
  set(NF_CUDA_ENABLED ${NF_WITH_CUDA})
endif()
if(NF_CUDA_ENABLED AND NOT NF_TORCH_HAS_CUDA)
  message(FATAL_ERROR "NF_WITH_CUDA=${NF_WITH_CUDA} needs a LibTorch with CUDA, and ${TORCH_INSTALL_PREFIX} has none: "
                      "use AUTO, or point CMAKE_PREFIX_PATH at PyTorch's (python3 -c 'import torch; "
                      "print(torch.utils.cmake_prefix_path)')")
endif()
find_path(NF_NCCL_INCLUDE_DIR nccl.h HINTS /usr/local/cuda/include ENV CUDA_HOME PATH_SUFFIXES include)
find_path(NF_CUDART_INCLUDE_DIR cuda_runtime.h HINTS /usr/local/cuda/include ENV CUDA_HOME PATH_SUFFIXES include)
find_library(NF_NCCL_LIBRARY nccl HINTS /usr/local/cuda/lib64 ENV CUDA_HOME PATH_SUFFIXES lib64 lib)
find_library(NF_CUDART_LIBRARY cudart HINTS /usr/local/cuda/lib64 ENV CUDA_HOME PATH_SUFFIXES lib64 lib)
if(NF_NCCL_INCLUDE_DIR AND NF_CUDART_INCLUDE_DIR AND NF_NCCL_LIBRARY AND NF_CUDART_LIBRARY)
  set(NF_HAVE_NCCL ON)
else()
  set(NF_HAVE_NCCL OFF)
endif()
message(STATUS "NeuralFlow: torch ${Torch_VERSION}, torch CUDA ${NF_TORCH_HAS_CUDA}, "
               "NF_WITH_CUDA ${NF_CUDA_ENABLED}, NCCL sources ${NF_HAVE_NCCL}")

# An allocator that keeps freed memory (DESIGN.md: ~300k page faults/step with glibc malloc).
find_library(NF_JEMALLOC_LIBRARY NAMES jemalloc libjemalloc.so.2)
