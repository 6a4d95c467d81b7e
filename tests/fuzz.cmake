# The fuzz tier (issue #21, docs/fuzzing.md): the libFuzzer targets of tests/fuzz/, one per parser of
# outside input, built by scripts/fuzz.sh with clang (ASan + UBSan) into ${PROJECT_BINARY_DIR}/fuzz.
# scripts/build.sh builds them; the fixture nf_fuzz_build builds them too (nothing to do after
# build.sh) so that the tier runs in any build tree. Each test replays its target's regression
# inputs, then fuzzes a copy of its seed corpus for 30 s and fails on any crash, leak or sanitizer
# report, naming the reproducer. Label fuzz; exit 77 = skipped where clang or libFuzzer is missing.
# A longer run by hand: scripts/fuzz.sh --seconds 600 [TARGET...].
set(NF_FUZZ_ENVIRONMENT "NF_FUZZ_BUILD_DIR=${PROJECT_BINARY_DIR}/fuzz")
add_test(NAME nf_fuzz_build COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh --build-only)
set_tests_properties(nf_fuzz_build PROPERTIES LABELS fuzz TIMEOUT 1200 PROCESSORS 2 FIXTURES_SETUP fuzz_build
                     SKIP_RETURN_CODE 77 ENVIRONMENT "${NF_FUZZ_ENVIRONMENT}")
file(GLOB NF_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_*.cpp)
foreach(source ${NF_FUZZ_SOURCES})
  get_filename_component(name ${source} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" target ${name})
  add_test(NAME nf_fuzz_${target} COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh --no-build --seconds 30 ${target})
  set_tests_properties(nf_fuzz_${target} PROPERTIES LABELS fuzz TIMEOUT 180 FIXTURES_REQUIRED fuzz_build
                       SKIP_RETURN_CODE 77 ENVIRONMENT "${NF_FUZZ_ENVIRONMENT}")
endforeach()
