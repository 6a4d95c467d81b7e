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

# LibTorch: Debian's 1.13 (CPU) here; on GPU machines PyTorch 2.x's, found through
# `python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'` when not on the default path.
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  execute_process(COMMAND python3 -c "import torch; print(torch.utils.cmake_prefix_path)"
                  OUTPUT_VARIABLE NF_TORCH_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  find_package(Torch REQUIRED PATHS "${NF_TORCH_PREFIX}")
endif()
# TorchConfig's imported targets carry compile flags; keep its headers out of our warnings.
add_library(nf_torch INTERFACE)
target_link_libraries(nf_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(nf_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})

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
