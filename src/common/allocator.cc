// The allocator's defaults for every weir program that links weir_allocator (the weir binary and
// the benchmarks that measure memory or throughput).
//
// weir links jemalloc instead of glibc's malloc: RocksDB's block cache, memtables and the
// write-back cache allocate and free millions of small blocks from many threads, and glibc's
// per-thread arenas keep the freed pages (measured by bench/memory_bench: the heap held 320-420 MiB
// for 236 MiB in use, 1.38x the managed budget). jemalloc returns freed pages to the system after
// a decay time (here: at once), so the resident set stays near what is in use.
//
// jemalloc reads this symbol at its first allocation; MALLOC_CONF in the environment still
// overrides it (docs/configuration.md, "Environment").
extern "C" {
// percpu_arena:percpu: one arena per CPU instead of jemalloc's four per CPU; fewer arenas hold
//   fewer partly used pages (memory_bench, 20 states x 4 subtasks, 256 MiB budget: peak RSS 1.03x
//   the budget, against 1.19x with jemalloc's arenas and 1.38x with glibc).
// dirty_decay_ms:0, muzzy_decay_ms:0: freed pages go back to the system at once rather than after
//   jemalloc's default 10 s, long enough for cache churn to stay resident above the budget. The
//   hot path did not slow down (runtime_bench, 3M events: 264k events/s against 260k).
// background_thread: what purging remains happens off the task threads.
__attribute__((used, visibility("default"))) const char* malloc_conf =
    "percpu_arena:percpu,background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0";
}
