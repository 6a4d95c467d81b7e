// jemalloc's build-time options for every NeuralFlow program: keep freed memory instead of
// returning it to the OS, so the large activation buffers of each step are reused rather than
// page-faulted back in (DESIGN.md measured ~300k page faults/step with glibc malloc). jemalloc
// reads this symbol at start-up; MALLOC_CONF in the environment still overrides it.
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's interface.
const char* malloc_conf = "oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
