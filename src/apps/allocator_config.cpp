// jemalloc's build-time options for every NeuralFlow program: keep freed memory instead of
// returning it to the OS, so the large activation buffers of each step are reused rather than
// page-faulted back in (DESIGN.md measured ~300k page faults/step with glibc malloc).
// lg_extent_max_active_fit:20 lets a request reuse any larger free extent: jemalloc does not
// coalesce free ("dirty") extents until it purges them, which it never does here, so with the
// default limit (64x the request) the heap grew by ~1.4 GB and ~400k fresh page faults per step
// of the small preset (12% of its time); with it the heap stays flat (docs/benchmarks.md).
// jemalloc reads this symbol at start-up; MALLOC_CONF in the environment still overrides it.
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's interface.
const char* malloc_conf = "oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1,lg_extent_max_active_fit:20";
}
