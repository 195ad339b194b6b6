// Bundled connectors: a replayable file source, an exactly-once file sink and a generator.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "weir/job.h"

namespace weir {

// Lines of a file, or of every file in a directory (names starting with '.' or '_' skipped).
// Files are spread over the source's subtasks (the i-th file, in name order, to subtask
// i mod parallelism); each file's position (byte offset after the last line emitted) is kept in
// the checkpoint, as a union list of operator state, so that a restored job reads on from exactly
// there, at any parallelism (files found since the checkpoint are read from their start).
// Bounded: ends after the last line of its files as they were when the subtask opened them.
// `lines_per_sec` limits all subtasks together (0 = unbounded), as the generator's rate does.
Source<std::string> FileSource(std::string path, int64_t lines_per_sec = 0);

// Exactly-once file sink: records (lines) go to hidden in-progress part files in `dir`; at each
// checkpoint barrier the current part becomes pending, and pending parts are committed (renamed
// to part-<operator uid>-<subtask>-<n>) only when their checkpoint completes, or on restore from
// a checkpoint that holds them, also at another parallelism (subtask s of P commits those of the
// old subtasks o with o mod P == s). Committed output = the files of `dir` whose names begin
// with neither '.' nor '_'. Without checkpointing, parts are committed at the end of input.
Sink<std::string> FileSink(std::string dir);

// Events i = 0 .. count-1, event i made by make(i); subtask s of P emits the i with
// i mod P == s, in order. `rate_per_sec` limits all subtasks together (0 = unbounded). The
// events are cut into fixed splits (at least 128) whose positions are kept in the checkpoint:
// restored at another parallelism, the splits move to the new subtasks, and every event is still
// emitted exactly once.
std::function<std::unique_ptr<SourceOperator>()> NewGeneratorSource(
    uint64_t count, std::function<Record(uint64_t)> make, int64_t rate_per_sec);

template <typename T>
Source<T> GeneratorSource(uint64_t count, std::function<T(uint64_t)> make,
                          int64_t rate_per_sec = 0) {
  return {NewGeneratorSource(
      count, [make = std::move(make)](uint64_t i) { return Record(make(i)); }, rate_per_sec)};
}

}  // namespace weir
