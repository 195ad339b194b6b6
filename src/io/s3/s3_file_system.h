// S3FileSystem: the FileSystem interface over an S3-compatible object store, for paths
// "s3://bucket/key". Directories do not exist in S3: CreateDirs and SyncDir do nothing, a
// "directory" is the prefix "<key>/": Stat finds it while an object lies below it, ListDir of
// an empty one is empty. A written file
// becomes an object when Close() returns: one PUT below s3.upload.part-size, otherwise a
// multipart upload whose parts go up in parallel while the file is written (aborted if the file
// is abandoned or a part fails, so that no parts linger). PublishAtomically is one PUT: an S3
// PUT is atomic, so nothing depends on rename (Rename is copy + delete). Large reads are split
// into parallel ranged GETs.
#pragma once

#include <memory>

#include "io/file_system.h"
#include "io/s3/s3_client.h"

namespace weir::s3 {

std::shared_ptr<FileSystem> NewS3FileSystem(std::shared_ptr<S3Client> client);

// The "s3" entry of io/file_systems.h: a file system for the normalized "s3://bucket/…" `path`,
// configured by the s3.* keys.
Result<std::shared_ptr<FileSystem>> S3FileSystemFor(const std::string& path,
                                                    const Configuration& config);

}  // namespace weir::s3
