# The one-shot GPU check (scripts/gpu/check.sh) without a GPU: its arguments, the dependency bundle
# (scripts/gpu/make_bundle.sh downloads Debian's packages: skipped where they are not reachable) and
# the CPU dry run of every item against this build.
nf_add_script_test(nf_gpu_check SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_gpu_check.sh LABEL e2e TIMEOUT 600)
set_tests_properties(nf_gpu_check PROPERTIES SKIP_RETURN_CODE 77)
