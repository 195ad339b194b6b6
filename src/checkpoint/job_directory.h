// Which directories are weir's job directories. weir acts (gc, verify, list, cancellation
// cleanup) only on a directory it recognizes; anything else is reported and left alone, never
// guessed at from its shape.
#pragma once

#include <string>
#include <vector>

#include "storage/checkpoint_storage.h"

namespace weir {

// A job directory is recognized by its marker (written when weir created it) or, for a directory
// from before the marker, by a chk-<N>/_metadata that decodes. A link or a non-directory is never
// recognized. Not recognized: OK(false).
Result<bool> RecognizeJobDirectory(const CheckpointStorage& storage);

// A savepoint directory: a directory (not a link) whose `_metadata` decodes as a savepoint's.
// Not one: OK(false).
Result<bool> RecognizeSavepointDirectory(FileSystem& fs, const std::string& dir);

struct JobDirectories {
  std::vector<std::string> jobs;        // recognized job directories, sorted
  std::vector<std::string> savepoints;  // recognized savepoint directories, sorted
  // What was looked at and left alone, each with the reason ("<path>: not a job directory …").
  std::vector<std::string> ignored;
};

// Deletes what weir keeps in a recognized job directory (DELETE_ON_CANCELLATION): its chk-<N>
// directories, shared/, taskowned/ and its marker, each through the guard; then the directory
// itself if nothing else is left in it. Whatever else a user keeps there stays. Refuses
// (FailedPrecondition) a directory it does not recognize.
Status DeleteJobDirectory(const CheckpointStorage& storage);

// `dir` is a job directory or a savepoint directory, or a directory holding job or savepoint
// directories: returns those it recognizes. NotFound / InvalidArgument when `dir` is neither a
// directory nor readable.
Result<JobDirectories> FindJobDirectories(FileSystem& fs, const std::string& dir);

}  // namespace weir
