// `weir worker --cluster etcd://HOST:PORT --job NAME [--id ID] [--config FILE] [-D key=value]...
// JOB [JOB-ARGS...]`: one process of a job run across several (docs/cluster.md): it runs the
// shards etcd assigns it, each as JOB with `--shard N --shards S` added to its arguments.
// SIGINT/SIGTERM hand its shards off (final checkpoints) before it exits; it also exits 0 once
// every shard of a bounded job finished.
// `weir cluster status --cluster URL NAME`: the job's workers, leader and shards.
#pragma once

#include <CLI/CLI.hpp>

namespace weir::cli {

void AddWorkerCommands(CLI::App& app, int& exit_code);

}  // namespace weir::cli
