#!/usr/bin/env python3
"""Writes docs/benchmarks.md (and SVG plots in docs/benchmarks/) from one bench/run.sh result
directory: medians of the repeated runs with min and max beside them, each goal of the benchmark
issue beside its measured figure. Standard library only; plots through gnuplot."""
import glob
import json
import math
import os
import re
import statistics
import subprocess
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def mmm(values):
    """(median, min, max) of a list of numbers."""
    return statistics.median(values), min(values), max(values)


def nearest_rank(values, p):
    """The p-quantile (0..1) of `values` by the nearest rank: the smallest value that at least
    p of them do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def fmt(values, digits=1, scale=1.0):
    med, lo, hi = mmm([v * scale for v in values])
    if len(values) == 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f})"


def mib(b):
    return b / 1048576.0


def checkpoint_cost(results):
    """{(size_mib, change): {method: [figure, ...]}} and the disk bandwidths."""
    table, bandwidths = {}, []
    for path in sorted(glob.glob(os.path.join(results, "checkpoint-*.json"))):
        m = re.search(r"checkpoint-(\d+)MiB-([\d.]+)pct-\d+\.json$", path)
        d = load(path)
        bandwidths.append(d["disk_bandwidth_bytes_per_s"])
        cell = table.setdefault((int(m.group(1)), float(m.group(2))), {})
        for f in d["figures"]:
            f = dict(f, state_bytes=d["state_bytes"], bandwidth=d["disk_bandwidth_bytes_per_s"])
            cell.setdefault(f["name"], []).append(f)
    return table, bandwidths


def runtime_rows(results, pattern="runtime-*.json"):
    """Rows of runtime_bench's job runs grouped by "off" or "<mode> every <interval>"."""
    rows = {}
    for path in sorted(glob.glob(os.path.join(results, pattern))):
        for r in load(path):
            key = "off" if r["mode"] == "off" else f"{r['mode']} every {r['interval']}"
            rows.setdefault(key, []).append(r)
    return rows


def throughput_pairs(results):
    """Events/s of changelog checkpoints every 1 s over checkpoints off, one ratio per adjacent
    pair of runs in one process (run.sh alternates their order)."""
    ratios = []
    for path in sorted(glob.glob(os.path.join(results, "throughput-pairs-*.json"))):
        runs = load(path)
        offs = [r for r in runs if r["mode"] == "off"]
        cls = [r for r in runs if r["mode"] == "changelog"]
        ratios += [c["events_per_s"] / o["events_per_s"] for o, c in zip(offs, cls)]
    return ratios


def hot_path(results):
    """db_bench updaterandom ops/s and keyed-aggregate events/s (off, incremental every 1 s) of
    the same runs, or None when the run has no hot-path step."""
    dbbench = []
    for path in sorted(glob.glob(os.path.join(results, "dbbench-*.txt"))):
        with open(path) as f:
            for line in f:
                m = re.match(r"updaterandom\s*:.*?([0-9.]+) ops/sec", line)
                if m:
                    dbbench.append(float(m.group(1)))
    jobs = runtime_rows(results, "hotpath-*.json")
    hash_jobs = runtime_rows(results, "hothash-*.json")
    if not dbbench or "off" not in jobs:
        return None
    first = jobs["off"][0]

    def figures(rows):
        return {"off": [r["events_per_s"] for r in rows.get("off", [])],
                "incremental": [r["events_per_s"] for r in rows.get("incremental every 1s", [])],
                "duration_p99": [r["duration_p99_ms"] for r in rows.get("incremental every 1s", [])
                                 if "duration_p99_ms" in r]}
    return {"dbbench": dbbench, **figures(jobs), "hash": figures(hash_jobs),
            "keys": first["keys"], "events": first["events"],
            "parallelism": first["parallelism"]}


def study_runs(results):
    """The tuning study: steady-state runs of the same workload with one change each."""
    runs = []
    for path in sorted(glob.glob(os.path.join(results, "study-*.json"))):
        d = load(path)
        d["name"] = re.search(r"study-\d+-(.+)\.json$", path).group(1).replace("_", " ")
        runs.append(d)
    return runs


def plot_study(runs, docs):
    """Bytes written per checkpoint over the run, one line per tuning."""
    if not runs:
        return None
    data = os.path.join(docs, "benchmarks", "study.dat")
    with open(data, "w") as f:
        for run in runs:
            f.write(f"# {run['name']}\n")
            for c in run["checkpoints"]:
                f.write(f"{c['checkpoint']} {mib(c['written_bytes'])}\n")
            f.write("\n\n")
    svg = os.path.join(docs, "benchmarks", "study.svg")
    plots = ", ".join(f"'{data}' index {i} with lines lw 1.5 title '{r['name']}'"
                      for i, r in enumerate(runs))
    script = (f"set terminal svg size 760,460 dynamic font 'sans,11'; set output '{svg}';"
              "set title 'MiB written per incremental checkpoint, by RocksDB tuning';"
              "set xlabel 'checkpoint'; set ylabel 'MiB written'; set yrange [0:*]; set grid;"
              "set key below; "
              f"plot {plots}")
    subprocess.run(["gnuplot", "-e", script], check=True)
    os.remove(data)
    return "benchmarks/study.svg"


def plot_checkpoint_cost(table, docs):
    """Total checkpoint time against the fraction changed, per method, for the largest state."""
    if not table:
        return None
    largest = max(size for size, _ in table)
    methods = sorted({m for (size, _), c in table.items() if size == largest for m in c})
    data = os.path.join(docs, "benchmarks", "checkpoint-cost.dat")
    with open(data, "w") as f:
        for i, method in enumerate(methods):
            f.write(f"# {method}\n")
            for (size, change), cell in sorted(table.items()):
                if size == largest and method in cell:
                    f.write(f"{change} {statistics.median(x['total_ms'] for x in cell[method])}\n")
            f.write("\n\n")
    svg = os.path.join(docs, "benchmarks", "checkpoint-cost.svg")
    plots = ", ".join(
        f"'{data}' index {i} with linespoints lw 2 title '{m}'" for i, m in enumerate(methods))
    script = (f"set terminal svg size 720,420 dynamic font 'sans,11'; set output '{svg}';"
              f"set title 'Checkpoint duration, {largest} MiB of state';"
              "set xlabel 'keys changed since the last checkpoint (%)'; set logscale xy;"
              "set ylabel 'total ms (median)'; set key top left; set grid;"
              f"plot {plots}")
    subprocess.run(["gnuplot", "-e", script], check=True)
    os.remove(data)
    return "benchmarks/checkpoint-cost.svg"


def plot_throughput(rows, docs):
    keys = [k for k in ["off"] + sorted(k for k in rows if k != "off") if k in rows]
    if not keys:
        return None
    data = os.path.join(docs, "benchmarks", "throughput.dat")
    with open(data, "w") as f:
        for i, k in enumerate(keys):
            f.write(f"{i} \"{k}\" {statistics.median(r['events_per_s'] for r in rows[k])}\n")
    svg = os.path.join(docs, "benchmarks", "throughput.svg")
    script = (f"set terminal svg size 720,380 dynamic font 'sans,11'; set output '{svg}';"
              "set title 'keyed-aggregate events/s (median)'; set style fill solid 0.8;"
              "set boxwidth 0.6; set xtics rotate by -25; set yrange [0:*]; set grid ytics;"
              f"plot '{data}' using 1:3:xtic(2) with boxes notitle lc rgb '#2b6cb0'")
    subprocess.run(["gnuplot", "-e", script], check=True)
    os.remove(data)
    return "benchmarks/throughput.svg"


def plot_steady_state(steady, docs):
    """Bytes written per checkpoint (and the compressed changed records) and the directory's
    size against the live state, over the run."""
    data = os.path.join(docs, "benchmarks", "steady-state.dat")
    with open(data, "w") as f:
        for c in steady["checkpoints"]:
            f.write(f"{c['checkpoint']} {mib(c['written_bytes'])} "
                    f"{mib(c['changed_compressed_bytes'])} {c['dir_to_live']} {c['shared_files']}\n")
    svg = os.path.join(docs, "benchmarks", "steady-state.svg")
    script = (f"set terminal svg size 720,420 dynamic font 'sans,11'; set output '{svg}';"
              "set title 'Incremental checkpoints under continuous updates';"
              "set xlabel 'checkpoint'; set ylabel 'MiB'; set y2label 'directory / live state';"
              "set y2tics; set ytics nomirror; set yrange [0:*]; set y2range [0:*]; set grid;"
              "set key below horizontal;"
              f"plot '{data}' using 1:2 with lines lw 2 title 'written',"
              f" '' using 1:3 with lines lw 2 title 'changed records, compressed',"
              f" '' using 1:4 axes x1y2 with lines lw 2 title 'directory / live state'")
    subprocess.run(["gnuplot", "-e", script], check=True)
    os.remove(data)
    return "benchmarks/steady-state.svg"


def main():
    results, docs = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(docs, "benchmarks"), exist_ok=True)
    machine = load(os.path.join(results, "machine.json"))
    table, bandwidths = checkpoint_cost(results)
    rows = runtime_rows(results)
    long_pauses = runtime_rows(results, "pause-*.json")
    state = load(os.path.join(results, "state-access.json"))
    steady_path = os.path.join(results, "steady-state.json")
    steady = load(steady_path) if os.path.exists(steady_path) else None
    changelog_path = os.path.join(results, "steady-state-changelog.json")
    steady_changelog = load(changelog_path) if os.path.exists(changelog_path) else None
    cost_plot = plot_checkpoint_cost(table, docs)
    throughput_plot = plot_throughput(rows, docs)
    out = []
    w = out.append
    w("# Benchmarks\n")
    w(f"Generated by `bench/run.sh{' --quick' if machine['quick'] else ''}` on "
      f"{machine['date']} at commit `{machine['commit']}`; raw figures in "
      f"`bench/results/{os.path.basename(results)}/`. Machine: {machine['cpu']}, "
      f"{machine['cores']} cores, {machine['memory_gib']} GiB RAM, {machine['os']}, "
      f"temp storage {machine['disk']}. Each figure is the median of the repeated runs with "
      "min–max in parentheses. Figures are measured, never asserted.\n")
    resumed = os.path.join(results, "resumed.json")
    if os.path.exists(resumed):
        r = load(resumed)
        w(f"The run was interrupted and resumed (`bench/run.sh --resume`; last on {r['date']} at "
          f"commit `{r['commit']}`): the steps that had not run yet ran with the later commits "
          "(see bench/analysis.md).\n")
    if machine["quick"]:
        w("**This is a `--quick` run: every scenario scaled down; see the full-size run before "
          "drawing conclusions.**\n")

    w("## Checkpoint cost\n")
    w(f"Disk sequential write with fsync (the limit): {fmt([mib(b) for b in bandwidths], 0)} MiB/s. "
      "One state of N keys (100-byte incompressible values) compacted fully (a long-running job's "
      "state is mostly in the last level), a first incremental checkpoint as the "
      "base, then the given fraction of the keys updated, then on that same database: a weir "
      "incremental checkpoint, a weir full checkpoint, RocksDB's BackupEngine incremental backup "
      "(`share_table_files`) after a backup of the base, and a native RocksDB checkpoint copied "
      "whole. The change is flushed from the memtable once, timed, and that time is part of every "
      "total but weir full's (which reads the memtable): each method pays the same flush. "
      "*limit* = bytes written / disk bandwidth.\n")
    w("| state | changed | method | sync ms | total ms | MiB written | files | total / limit |")
    w("|---:|---:|---|---:|---:|---:|---:|---:|")
    for (size, change), cell in sorted(table.items()):
        for method, figs in sorted(cell.items()):
            ratio = [f["total_ms"] / f["limit_ms"] for f in figs if f["limit_ms"] > 0]
            w(f"| {size} MiB | {change}% | {method} | {fmt([f['sync_ms'] for f in figs], 2)} | "
              f"{fmt([f['total_ms'] for f in figs])} | {fmt([mib(f['bytes']) for f in figs], 2)} | "
              f"{fmt([f['files'] for f in figs], 0)} | "
              f"{fmt(ratio) + 'x' if ratio else '–'} |")
    w("")
    if cost_plot:
        w(f"![checkpoint duration against the fraction changed]({cost_plot})\n")

    if steady:
        cps = steady["checkpoints"]
        written = [c["written_bytes"] for c in cps]
        w("## Steady state\n")
        w(f"{len(cps)} incremental checkpoints of {steady['keys']:,} keys x "
          f"{steady['value_bytes']}-byte incompressible values, {steady['updates']:,} random "
          f"updates between checkpoints, {steady['retained']} retained. *changed, compressed* = "
          "the records updated since the previous checkpoint written to one SST with RocksDB's "
          "default options: what an ideal incremental checkpoint would upload.\n")
        w("| figure | value |")
        w("|---|---:|")
        w(f"| MiB written per checkpoint (median, min–max) | {fmt([mib(b) for b in written], 2)} |")
        w(f"| p99 MiB written | {mib(sorted(written)[int(0.99 * (len(written) - 1))]):.2f} |")
        w(f"| written / changed compressed (over the run) | {steady['written_to_changed']:.2f}x |")
        w(f"| directory / live state (average, worst) | {steady['dir_to_live_avg']:.2f}, "
          f"{steady['dir_to_live_max']:.2f} |")
        w(f"| files in shared/ at the end | {cps[-1]['shared_files']} |")
        spikes = [c for c in cps if c["written_bytes"] > 3 * c["changed_compressed_bytes"]]
        share = sum(c["written_bytes"] for c in spikes) / max(1, sum(written))
        w(f"| checkpoints writing more than 3x their change (after a compaction) | "
          f"{len(spikes)} of {len(cps)}, {share:.0%} of all bytes written |")
        w(f"| total ms per checkpoint (median) | {fmt([c['total_ms'] for c in cps])} |")
    if steady_changelog:
        cl = steady_changelog
        cps = cl["checkpoints"]
        written = [c["written_bytes"] for c in cps]
        w("\n### Steady state with changelog checkpoints\n")
        w(f"The same workload ({cl['keys']:,} keys, {cl['updates']:,} updates between "
          f"checkpoints, {len(cps)} checkpoints) with `state.backend.changelog.enabled`, one "
          f"checkpoint every {cl['pace_ms']} ms and a materialization every "
          f"{cl['materialize_interval']} ({cl['materializations']} in all, the first at the base: "
          "RocksDB's incremental materializations). *written* = every byte added to the "
          "checkpoint storage between two checkpoints (log files and materializations included, "
          "`_metadata` not).\n")
        w("| figure | value |")
        w("|---|---:|")
        w(f"| MiB written per checkpoint (median, min–max) | {fmt([mib(b) for b in written], 2)} |")
        w(f"| p99 MiB written | {mib(sorted(written)[int(0.99 * (len(written) - 1))]):.2f} |")
        w(f"| written / changed compressed (over the run) | {cl['written_to_changed']:.2f}x |")
        w(f"| directory / live state (average, worst) | {cl['dir_to_live_avg']:.2f}, "
          f"{cl['dir_to_live_max']:.2f} |")
        w(f"| state backend's synchronous part p99 | {cl['sync_ms_p99']:.2f} ms |")
        w(f"| total ms per checkpoint (median) | {fmt([c['total_ms'] for c in cps])} |")
        w("")
        w(f"![bytes written and directory size over the run]({plot_steady_state(steady, docs)})\n")

    recovery = {}
    for path in sorted(glob.glob(os.path.join(results, "checkpoint-*.json"))):
        m = re.search(r"checkpoint-(\d+)MiB-", path)
        for r in load(path).get("restores", []):
            recovery.setdefault(int(m.group(1)), {}).setdefault(r["name"], []).append(r["ms"])
    if recovery:
        w("## Recovery\n")
        w("The state of the checkpoint-cost scenario restored into a fresh local directory through "
          "the restore API (every file verified, then hard-linked or copied, RocksDB opened; full: "
          "the key-group stream replayed into a new database), against RocksDB's "
          "`RestoreDBFromLatestBackup`. Over every change fraction and repeat.\n")
        w("| state | from | ms |")
        w("|---:|---|---:|")
        for size, by in sorted(recovery.items()):
            for name, ms in sorted(by.items()):
                w(f"| {size} MiB | {name} | {fmt(ms)} |")
        w("")

    rescale = {}
    rescale_mib = None
    for path in sorted(glob.glob(os.path.join(results, "rescale-*.json"))):
        data = load(path)
        rescale_mib = data["state_mib"]
        for r in data["restores"]:
            key = (r["checkpoint"], r["from"], r["to"], r["ingest"])
            rescale.setdefault(key, []).append(r)
    if rescale:
        w("## Rescaling\n")
        w(f"One operator's RocksDB state ({rescale_mib} MiB of incompressible values, fully "
          "compacted) checkpointed at parallelism 2 and 4, incrementally and fully, then restored "
          "at its own parallelism and at the others (`bench/rescale_bench`): the time until every "
          "new subtask's backend is open, built one after another as the runtime does. *ingest*: "
          "the rows read from other databases written into SST files and ingested (weir's "
          "default); *batches*: written through the memtable. *vs same*: against the restore of "
          "the same checkpoint at its own parallelism. Medians over the repeats.\n")
        w("| checkpoint | from | to | rows written by | ms | vs same |")
        w("|---|---:|---:|---|---:|---:|")
        for key in sorted(rescale, key=lambda k: (k[0] != "incremental", k[1], k[2] != k[1], k[2],
                                                  not k[3])):
            kind, old, new, ingest = key
            rs = rescale[key]
            how = "(hard links)" if kind == "incremental" and old == new else (
                "ingest" if ingest else "batches")
            w(f"| {kind} | {old} | {new} | {how} | {fmt([r['ms'] for r in rs])} | "
              f"{statistics.median(r['vs_same'] for r in rs):.2f}x |")
        w("")

    savepoint_take, savepoint_restore = {}, {}
    savepoint_meta = None
    for path in sorted(glob.glob(os.path.join(results, "savepoint-*.json"))):
        data = load(path)
        savepoint_meta = data
        for t in data["take"]:
            savepoint_take.setdefault(t["snapshot"], []).append(t)
        for t in data["restore"]:
            savepoint_restore.setdefault(t["snapshot"], []).append(t)
    if savepoint_take:
        w("## Savepoints\n")
        w(f"{savepoint_meta['parallelism']} RocksDB backends holding "
          f"{savepoint_meta['state_mib']} MiB of incompressible values in all, fully compacted "
          "(`bench/savepoint_bench`). *Take*: every backend's synchronous part, then the "
          "asynchronous parts in parallel, until the last one wrote its files; *restore*: the "
          "backends rebuilt one after another as the runtime does, until all are open (a "
          "savepoint is never owned, a checkpoint is claimed). The first incremental checkpoint "
          "uploads every SST, the next one only what 1% of the keys changed; a full checkpoint in "
          "an incremental job (`weir checkpoint --full`) uploads every SST again. Medians over "
          "the repeats.\n")
        disk = [load(p)["disk_mib_per_s"]
                for p in sorted(glob.glob(os.path.join(results, "savepoint-*.json")))]
        w(f"Disk sequential write with fsync (the limit), measured in the same runs: "
          f"{fmt(disk)} MiB/s.\n")
        w("| take | ms | MiB written | MiB/s |")
        w("|---|---:|---:|---:|")
        for name, ts in savepoint_take.items():
            ms = [t["ms"] for t in ts]
            written = statistics.median(t["mib"] for t in ts)
            w(f"| {name} | {fmt(ms)} | {written:,.1f} | "
              f"{written / (statistics.median(ms) / 1e3):,.1f} |")
        w("")
        w("| restore | ms |")
        w("|---|---:|")
        for name, ts in savepoint_restore.items():
            w(f"| {name} | {fmt([t['ms'] for t in ts])} |")
        w("")

    runs = study_runs(results)
    if runs:
        w("## Tuning study: what brings the bytes written and the pause down\n")
        base = runs[0]
        w(f"The steady-state workload ({base['keys']:,} keys x {base['value_bytes']}-byte "
          f"incompressible values, {base['updates']:,} random updates between checkpoints, "
          f"{len(base['checkpoints'])} checkpoints), once per RocksDB tuning, each row changing "
          "one thing against the row above it unless it says otherwise. The first row is Flink's "
          "behaviour (memtable flush in the synchronous part, RocksDB's default leveled "
          "compaction); *live state* = the checkpoint of every key written once.\n")
        w("| tuning | written / changed compressed | MiB written p50 | MiB written p99 | "
          "directory / live avg | worst | sync p99 ms | total ms avg |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in runs:
            wr = sorted(c["written_bytes"] for c in r["checkpoints"])
            w(f"| {r['name']} | {r['written_to_changed']:.2f}x | "
              f"{mib(statistics.median(wr)):.2f} | {mib(wr[int(0.99 * (len(wr) - 1))]):.2f} | "
              f"{r['dir_to_live_avg']:.2f} | {r['dir_to_live_max']:.2f} | "
              f"{r['sync_ms_p99']:.2f} | {r['total_ms_avg']:.1f} |")
        w("")
        w(f"![bytes written per checkpoint by tuning]({plot_study(runs, docs)})\n")

    latency = runtime_rows(results, "latency-*.json")
    if latency:
        rate = next(iter(latency.values()))[0]["rate"]
        w("## Event latency\n")
        w(f"`keyed-aggregate` paced at {rate:,} events/s (parallelism 2): time from an event's "
          "creation in the generator to its processing by the keyed aggregate (every 16th "
          "event), with checkpointing off and on.\n")
        w("| checkpoints | events/s | latency p50 ms | p99 ms | max ms | task pause p99 ms |")
        w("|---|---:|---:|---:|---:|---:|")
        for key in ["off"] + sorted(k for k in latency if k != "off"):
            if key not in latency:
                continue
            rs = latency[key]
            w(f"| {key} | {fmt([r['events_per_s'] for r in rs], 0)} | "
              f"{fmt([r['latency_p50_ms'] for r in rs], 2)} | "
              f"{fmt([r['latency_p99_ms'] for r in rs], 2)} | "
              f"{fmt([r['latency_max_ms'] for r in rs], 1)} | "
              f"{fmt([r['pause_p99_ms'] for r in rs], 2)} |")
        w("")

    first_record = {}
    for path in sorted(glob.glob(os.path.join(results, "recovery-*.json"))):
        for r in load(path):
            kind = r["kind"]
            if kind == "changelog":
                kind = f"changelog, materialize every {r['materialize_interval']}"
            first_record.setdefault((r["keys"], kind), []).append(r)
    if first_record:
        w("## Recovery to the first record\n")
        w("`keyed-aggregate` (parallelism 2) run over every key once, ending with a final "
          "checkpoint; then the same job restored from it as `weir run -s <checkpoint>` does "
          "(in-process `JobRuntime::Create` with `execution.savepoint.path`): *restore* = building "
          "the tasks incl. restoring every backend, *first record* = from creating the job to the "
          "first record the restored aggregate processes.\n")
        w("Changelog checkpoints are taken every second while the state is built, materializing "
          "at the interval given (1 h: never during the run, so the restore replays the whole "
          "state from the log); *log MiB* = the log segments the restore replays.\n")
        w("| keys | checkpoint | checkpoint MiB | log MiB | restore ms | first record ms |")
        w("|---:|---|---:|---:|---:|---:|")
        for (keys, kind), rs in sorted(first_record.items()):
            w(f"| {keys:,} | {kind} | {fmt([mib(r['checkpoint_bytes']) for r in rs], 0)} | "
              f"{fmt([mib(r.get('log_bytes', 0)) for r in rs], 1)} | "
              f"{fmt([r['restore_ms'] for r in rs], 0)} | "
              f"{fmt([r['first_record_ms'] for r in rs], 0)} |")
        w("")

    w("## Job overhead\n")
    w("`keyed-aggregate` end to end (generator -> per-key count, sum and 100-byte payload in "
      "RocksDB -> exactly-once file sink), parallelism 2.\n")
    w("*task pause* = the longest synchronous part of any task per checkpoint, including the "
      "chained file sink writing out and closing its part file (its fsync is the sink's "
      "asynchronous part; Flink's FileSink does it in the synchronous part); *state pause* = the "
      "keyed state backend's synchronous part alone.\n")
    w("| checkpoints | events/s | task pause max ms | task pause p99 ms | state pause p99 ms | "
      "duration p50 ms | duration p99 ms | MiB written / checkpoint | MiB full / checkpoint |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in ["off"] + sorted(k for k in rows if k != "off"):
        if key not in rows:
            continue
        rs = rows[key]
        w(f"| {key} | {fmt([r['events_per_s'] for r in rs], 0)} | "
          f"{fmt([r['pause_max_ms'] for r in rs])} | {fmt([r['pause_p99_ms'] for r in rs])} | "
          f"{fmt([r.get('backend_pause_p99_ms', 0) for r in rs], 2)} | "
          f"{fmt([r['duration_p50_ms'] for r in rs], 0)} | {fmt([r['duration_p99_ms'] for r in rs], 0)} | "
          f"{fmt([r['written_mib_per_checkpoint'] for r in rs], 2)} | "
          f"{fmt([r['full_mib_per_checkpoint'] for r in rs], 2)} |")
    w("")
    if throughput_plot:
        w(f"![events per second by checkpoint setting]({throughput_plot})\n")
    cpu_rows = {k: [r["cpu_s"] for r in rs if "cpu_s" in r] for k, rs in rows.items()}
    cpu_rows = {k: v for k, v in cpu_rows.items() if v}
    if cpu_rows:
        w("Where the CPU went: CPU seconds per million events by thread (user + system, from "
          "/proc/self/task; medians of the repeats). *tasks* = the job's task threads "
          "(generator, keyed aggregate with the chained file sink), *compaction* and *flush* = "
          "RocksDB's low- and high-priority background threads, *uploads* = the transfer pool "
          "copying SSTs, *async parts* = the snapshots' asynchronous parts (full checkpoints "
          "write their stream here; the sink's fsync), *other* = the rest (the coordinator, the "
          "cleaner). *busy* = all of it against the cores x the wall time.\n")
        groups = ["tasks", "compaction", "flush", "uploads", "async parts", "other"]

        def group(name):
            if name.startswith("task:"):
                return "tasks"
            return {"rocksdb:low": "compaction", "rocksdb:high": "flush", "weir-io": "uploads",
                    "weir-async": "async parts"}.get(name, "other")

        w("| checkpoints | " + " | ".join(groups) + " | total | busy |")
        w("|---|" + "---:|" * (len(groups) + 2))
        for key in ["off"] + sorted(k for k in cpu_rows if k != "off"):
            if key not in cpu_rows:
                continue
            per_group = {g: [] for g in groups + ["total", "busy"]}
            for r, cpu in zip([r for r in rows[key] if "cpu_s" in r], cpu_rows[key]):
                millions = r["events"] / 1e6
                sums = {g: 0.0 for g in groups}
                for name, seconds in cpu.items():
                    sums[group(name)] += seconds
                for g in groups:
                    per_group[g].append(sums[g] / millions)
                per_group["total"].append(sum(sums.values()) / millions)
                per_group["busy"].append(100 * sum(sums.values()) / (r["cores"] * r["wall_s"]))
            w(f"| {key} | " + " | ".join(fmt(per_group[g]) for g in groups) + " | "
              f"{fmt(per_group['total'])} | {fmt(per_group['busy'], 0)}% |")
        w("")

    nexmark = {}
    for path in sorted(glob.glob(os.path.join(results, "nexmark-q5-*.json"))):
        for r in load(path):
            nexmark.setdefault(r["mode"], []).append(r)
    if nexmark:
        r0 = next(iter(nexmark.values()))[0]
        flink = r0["flink_events_per_s_per_core"]
        w("## Nexmark query 5 (hot items)\n")
        w(f"`nexmark_bench`: Nexmark's q5 (bids per auction over sliding event-time windows of "
          f"10 s every 2 s, then each window's top auctions) as a weir job over the Nexmark-style "
          f"generator (bench/nexmark/), {r0['events']:,} events at {r0['tps']:,} events/s of "
          f"event time, parallelism {r0['parallelism']} on {r0['cores']} cores. *Per core* = "
          "events / CPU seconds of every thread of the process (Nexmark's Throughput/Cores). "
          f"Flink: {flink / 1000:.2f} K events/s per core, the Nexmark project's published q5 "
          "figure (github.com/nexmark/nexmark README: Flink 1.13 on 3 workers of 8 cores and "
          "32 GB, parallelism 8, RocksDB with incremental checkpoints every 3 minutes, 100M "
          "events at 10M/s). *Answer* = the committed output equals the answer computed "
          "directly from the generated events.\n")
        w("| checkpoints | events/s | CPU s | events/s per core | / Flink | answer |")
        w("|---|---:|---:|---:|---:|---|")
        for key in ["off"] + sorted(k for k in nexmark if k != "off"):
            if key not in nexmark:
                continue
            rs = nexmark[key]
            label = key if key == "off" else f"{key} every {rs[0]['interval']}"
            per_core = [r["events_per_s_per_core"] for r in rs]
            w(f"| {label} | {fmt([r['events_per_s'] for r in rs], 0)} | "
              f"{fmt([r['cpu_s'] for r in rs])} | {fmt(per_core, 0)} | "
              f"{statistics.median(per_core) / flink:.2f} | "
              f"{', '.join(sorted(set(r['answer'] for r in rs)))} |")
        w("")

    cluster_path = os.path.join(results, "cluster.json")
    if os.path.exists(cluster_path):
        c = load(cluster_path)
        w("## Scale-out (one job across weir workers)\n")
        w(f"`bench/cluster_bench.sh`: a bounded `nats-aggregate` of {c['events']:,} events in "
          f"{c['shards']} shards over etcd, NATS JetStream and local checkpoints "
          "(scripts/cluster.sh), every worker a process on this machine: "
          f"**{c['cores']} cores shared by all workers**, the NATS server and etcd, so more "
          "workers add no CPU; the figure shows what coordination costs and what spreading "
          "the shards' work over processes gains on the same cores. Throughput = events / "
          "(workers' start to every shard finished).\n")
        w("| workers | events/s | vs 1 worker |")
        w("|---:|---:|---:|")
        base = c["throughput"]["1"]["events_per_s"]
        for n in sorted(c["throughput"], key=int):
            r = c["throughput"][n]
            w(f"| {n} | {r['events_per_s']:,} | {r['events_per_s'] / base:.2f}x |")
        w("")
        if "handoff_pause_ms" in c:
            h = c["handoff_pause_ms"]
            met = "met" if h["max"] <= 1000 else "not met"
            whole = c.get("handoff_whole_ms", {}).get("p50")
            w(f"- Graceful handoff (a third worker joins two): a moved shard's input is read by "
              f"nobody for p50 {h['p50']} ms, max {h['max']} ms (from the old owner's stop, its "
              f"handoff checkpoint recorded, to the new owner's restore; {len(h['all'])} shards "
              f"moved); the whole handoff, from the decision, p50 {whole} ms. Goal ≤ 1 s: "
              f"**{met}**.")
        if c.get("takeover_p50_ms") is not None:
            w(f"- Takeover after SIGKILL (scripts/cluster-demo.sh, lease TTL 2 s, local "
              f"checkpoints of a few MB per shard): p50 {c['takeover_p50_ms']} ms from the kill "
              "to the new owner's claim.")
        # The goal's setting is measured apart (bench/takeover_bench.sh): the newest figures.
        takeovers = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(results)),
                                                  "takeover-idle-*.json")))
        if takeovers:
            t = load(takeovers[-1])
            span = lambda v: f"{min(v)}" if min(v) == max(v) else f"{min(v)}–{max(v)}"
            sizes = [x["state_mib"] for x in t["takeovers"] if x["state_mib"] > 0]
            restores = [x["restore_ms"] for x in t["takeovers"]]
            met = "met" if t["p50_ms"] <= t["lease_ttl_ms"] + 2000 else "not met"
            w(f"- Takeover in the goal's setting (`{t['bench']}`, {os.path.basename(takeovers[-1])}): "
              f"{t['shards']} shards of {span(sizes)} MiB on {t['storage']} (Ceph "
              f"RGW), lease TTL {t['lease_ttl_ms'] / 1000:g} s, the lost shard restored by its "
              f"standby: p50 {t['p50_ms']} ms, max {t['max_ms']} ms from the SIGKILL to the new "
              f"owner's restored checkpoint over {len(t['takeovers'])} takeovers (restores "
              f"{span(restores)} ms). Goal p50 ≤ lease TTL + 2 s: **{met}**. "
              "Without standbys the new owner downloads the shard (17.5 s for 266 MiB; "
              "docs/scale-out.md).")
        w("")

    w("## State access\n")
    w(f"{state['keys']:,} keys, {state['value_bytes']}-byte values, one thread, median of "
      f"{state['rounds']} rounds; MapState: 100 entries per key. Puts go to the write-back "
      "cache (state.backend.rocksdb.write-back-cache.enabled); an iteration first writes the "
      "rows it holds dirty to RocksDB, so the iteration after a round of puts pays for them, "
      "where raw RocksDB paid in the puts.\n")
    w("| operation | weir rocksdb ops/s (min–max) | weir hashmap ops/s | raw RocksDB ops/s | "
      "rocksdb / raw |")
    w("|---|---:|---:|---:|---:|")
    for r in state["rows"]:
        hashmap = f"{r['hashmap_ops_per_s']:,.0f}" if "hashmap_ops_per_s" in r else "—"
        w(f"| {r['operation']} | {r['weir_ops_per_s']:,.0f} ({r['weir_min']:,.0f}–"
          f"{r['weir_max']:,.0f}) | {hashmap} | {r['raw_ops_per_s']:,.0f} | {r['ratio']:.2f} |")
    w("")

    memory = [load(os.path.join(results, f"memory-{m}.json")) for m in ("true", "false")
              if os.path.exists(os.path.join(results, f"memory-{m}.json"))]
    # A full-size managed run measured apart (22 minutes on 2 cores), newest first: it decides
    # the goal when the run's own is smaller.
    full_memory = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(results)),
                                                "memory-full-true-*.json")))
    memory_full = None
    if full_memory:
        memory_full = load(full_memory[-1])
        memory_full["file"] = os.path.basename(full_memory[-1])
    if memory:
        m0 = memory[0]
        w("## Memory budget\n")
        w(f"`memory_bench`: {m0['states']} states × {m0['subtasks']} subtasks (one RocksDB backend "
          f"each, one thread each) × {m0['keys']:,} keys, {m0['value_bytes']}-byte values, every "
          "row written then as many random reads and updates; budget "
          f"`taskmanager.memory.managed.size` = {mib(m0['budget_bytes']):.0f} MiB. *Above "
          "baseline* = peak RSS (VmHWM) minus the RSS before the backends opened.\n")
        w("| managed memory | peak RSS MiB | above baseline MiB | / budget | shared cache peak MiB "
          "| rows/s |")
        w("|---|---:|---:|---:|---:|---:|")
        memory_rows = list(memory)
        if memory_full and memory_full["keys"] > m0["keys"]:
            memory_rows.append(memory_full)
        for m in memory_rows:
            above = m["peak_rss"] - m["baseline_rss"]
            cache = f"{mib(m['shared_cache_peak']):.1f}" if m["managed"] == "true" else "—"
            label = m["managed"]
            if m is memory_full:
                label += f", {m['keys']:,} keys ({m['file']})"
            w(f"| {label} | {mib(m['peak_rss']):.1f} | {mib(above):.1f} | "
              f"{above / m['budget_bytes']:.2f} | {cache} | {m['rows_per_second']:,.0f} |")
        w("")

    hot = hot_path(results)
    if hot:
        db = statistics.median(hot["dbbench"])
        w("## Hot path: weir against RocksDB's db_bench\n")
        w(f"`keyed-aggregate` ({hot['keys']:,} keys, {hot['events']:,} events, 100-byte payload, "
          f"parallelism {hot['parallelism']}) beside `db_bench --benchmarks=fillrandom,updaterandom "
          f"--num={hot['keys']} --writes={hot['events'] // 2} --threads=2 --key_size=16 "
          "--value_size=116 --disable_wal=1 --compression_type=lz4` in the same run: db_bench's "
          "read-modify-writes are just the job's state work. Medians (min–max).\n")
        w("| | ops or events/s | / db_bench |")
        w("|---|---:|---:|")
        w(f"| db_bench updaterandom | {fmt(hot['dbbench'], 0)} | 1.00 |")
        w(f"| keyed-aggregate, checkpoints off | {fmt(hot['off'], 0)} | "
          f"{statistics.median(hot['off']) / db:.2f} |")
        if hot["incremental"]:
            w(f"| keyed-aggregate, incremental every 1 s | {fmt(hot['incremental'], 0)} | "
              f"{statistics.median(hot['incremental']) / db:.2f} |")
        for mode, label in (("off", "checkpoints off"), ("incremental", "incremental every 1 s")):
            if hot["hash"][mode]:
                w(f"| keyed-aggregate, `HASH_SKIPLIST` memtable, {label} | "
                  f"{fmt(hot['hash'][mode], 0)} | {statistics.median(hot['hash'][mode]) / db:.2f} |")
        w("")
        if hot["duration_p99"] and hot["hash"]["duration_p99"]:
            w(f"Checkpoint duration p99 at 1 s: {fmt(hot['duration_p99'], 0)} ms with the default "
              f"skip list, {fmt(hot['hash']['duration_p99'], 0)} ms with the hash memtable (its "
              "flushes sort the memtable).\n")

    w("## Goals\n")
    w("| goal | measured | met |")
    w("|---|---|---|")
    if table:
        largest = max(size for size, _ in table)
        cell = table.get((largest, 1.0), {})
        if "weir incremental" in cell and "weir full" in cell:
            inc = statistics.median(f["total_ms"] for f in cell["weir incremental"])
            full = statistics.median(f["total_ms"] for f in cell["weir full"])
            w(f"| incremental at 1% of {largest} MiB at least 20x cheaper than full | "
              f"{full / inc:.1f}x ({inc:.0f} vs {full:.0f} ms) | {'yes' if full / inc >= 20 else 'no'} |")
        if "weir incremental" in cell and "BackupEngine incremental" in cell:
            inc = statistics.median(f["total_ms"] for f in cell["weir incremental"])
            be = statistics.median(f["total_ms"] for f in cell["BackupEngine incremental"])
            w(f"| weir incremental no slower than BackupEngine's incremental backup (1%, "
              f"{largest} MiB) | {inc:.0f} vs {be:.0f} ms | {'yes' if inc <= be else 'no'} |")
        for method, scope in [("weir full", "every change"), ("weir incremental", "1% changed")]:
            ratios = [f["total_ms"] / f["limit_ms"] for (s, c), cl in table.items()
                      if s == largest and (method == "weir full" or c == 1.0)
                      for f in cl.get(method, []) if f["limit_ms"] > 0]
            if ratios:
                r = statistics.median(ratios)
                w(f"| checkpoint duration at most 1.5x bytes / disk bandwidth ({method}, "
                  f"{largest} MiB, {scope}) | {r:.2f}x | {'yes' if r <= 1.5 else 'no'} |")
    off = [r["events_per_s"] for r in rows.get("off", [])]
    inc1 = [r["events_per_s"] for r in rows.get("incremental every 1s", [])]
    if off and inc1:
        share = statistics.median(inc1) / statistics.median(off)
        w(f"| throughput with 1 s incremental checkpoints at least 95% of none | {share:.1%} | "
          f"{'yes' if share >= 0.95 else 'no'} |")
    if hot:
        ratio = statistics.median(hot["off"]) / statistics.median(hot["dbbench"])
        w(f"| keyed-aggregate at least 1.5x db_bench updaterandom, same shape, same run | "
          f"{ratio:.2f}x | {'yes' if ratio >= 1.5 else 'no'} |")
        if hot["incremental"]:
            # The "95% of that" read both ways: of the 1.5x bound, and of the same job
            # without checkpoints (the first milestone's goal, in the hot path's shape).
            inc = statistics.median(hot["incremental"]) / statistics.median(hot["dbbench"])
            w(f"| ... with incremental checkpoints every 1 s at least 95% of that bound "
              f"(1.43x db_bench) | {inc:.2f}x | {'yes' if inc >= 0.95 * 1.5 else 'no'} |")
            share = statistics.median(hot["incremental"]) / statistics.median(hot["off"])
            w(f"| ... with incremental checkpoints every 1 s at least 95% of checkpoints off, "
              f"same shape | {share:.1%} | {'yes' if share >= 0.95 else 'no'} |")
    managed = [m for m in memory if m["managed"] == "true"]
    if memory_full and (not managed or memory_full["keys"] > managed[0]["keys"]):
        managed = [memory_full]
    if managed:
        m = managed[0]
        share = (m["peak_rss"] - m["baseline_rss"]) / m["budget_bytes"]
        w(f"| peak RSS above baseline at most budget + 10% ({m['states']} states × "
          f"{m['subtasks']} subtasks × {m['keys']:,} keys, managed memory) | {share:.2f}x the "
          f"budget | {'yes' if share <= 1.10 else 'no'} |")
    if state["rows"]:
        # The goal covers gets and puts; iterations are shown beside it (they pay the writes
        # the write-back cache deferred, see "State access").
        access = [r for r in state["rows"] if not r["operation"].endswith("iterate")]
        iterate = [r for r in state["rows"] if r["operation"].endswith("iterate")]
        worst = min(access, key=lambda r: r["ratio"])
        iterations = ", ".join(f"{r['operation']} {r['ratio']:.2f}x" for r in iterate)
        w(f"| state access (value/map get and put) at least 1.0x raw RocksDB everywhere | "
          f"{worst['ratio']:.2f}x at worst ({worst['operation']}; outside the goal: "
          f"{iterations}) | {'yes' if worst['ratio'] >= 1.0 else 'no'} |")
    p99 = [r.get("backend_pause_p99_ms", r["pause_p99_ms"])
           for k, rs in rows.items() if k.startswith("incremental") for r in rs]
    task_p99 = [r["pause_p99_ms"] for k, rs in rows.items() if k.startswith("incremental")
                for r in rs]
    if p99:
        worst = max(p99)
        w(f"| synchronous pause p99 at most 10 ms (incremental, every interval: the keyed state "
          f"backend's synchronous part) | {worst:.2f} ms (worst run; the whole task's pause: "
          f"{max(task_p99):.1f} ms) | {'yes' if worst <= 10 else 'no'} |")
    if steady:
        r = steady["written_to_changed"]
        w(f"| bytes written per incremental checkpoint at most 2x the compressed changed records "
          f"({len(steady['checkpoints'])} checkpoints) | {r:.2f}x | {'yes' if r <= 2 else 'no'} |")
        r = steady["dir_to_live_max"]
        w(f"| directory size at most 2x live state over the run | {r:.2f}x at worst | "
          f"{'yes' if r <= 2 else 'no'} |")
    if steady_changelog:
        r = steady_changelog["written_to_changed"]
        w(f"| changelog: bytes written per checkpoint at most 1.2x the compressed changed records, "
          f"materializations included ({len(steady_changelog['checkpoints'])} checkpoints, "
          f"materializing every {steady_changelog['materialize_interval']}) | {r:.2f}x | "
          f"{'yes' if r <= 1.2 else 'no'} |")
    for interval in ("1s", "200ms"):
        # With the longer runs made for this goal, where there are some.
        cl = rows.get(f"changelog every {interval}", []) + \
            long_pauses.get(f"changelog every {interval}", [])
        if cl:
            worst = max(r.get("backend_pause_p99_ms", 0) for r in cl)
            if all("backend_pauses_ms" in r for r in cl):
                # Pooled: a run's p99 over fewer than 100 checkpoints is its maximum.
                pooled = [p for r in cl for p in r["backend_pauses_ms"]]
                p99 = nearest_rank(pooled, 0.99)
                w(f"| changelog: state backend's synchronous part p99 at most 1 ms at {interval} | "
                  f"{p99:.2f} ms over the {len(pooled)} checkpoints of {len(cl)} runs (longest "
                  f"{max(pooled):.2f} ms) | {'yes' if p99 <= 1 else 'no'} |")
            else:
                w(f"| changelog: state backend's synchronous part p99 at most 1 ms at {interval} | "
                  f"{worst:.2f} ms (worst run) | {'yes' if worst <= 1 else 'no'} |")
    cl = rows.get("changelog every 1s", [])
    if cl:
        p99 = statistics.median(r["duration_p99_ms"] for r in cl)
        w(f"| changelog: checkpoint duration p99 at most 200 ms at 1 s | {p99:.0f} ms | "
          f"{'yes' if p99 <= 200 else 'no'} |")
        pairs = throughput_pairs(results)
        if pairs:
            share = statistics.median(pairs)
            separate = ""
            if off:
                separate = (f"; the job-overhead runs' medians: "
                            f"{statistics.median(r['events_per_s'] for r in cl) / statistics.median(off):.1%}")
            w(f"| changelog: throughput with checkpoints every 1 s at least 95% of none | "
              f"{share:.1%}, the median of {len(pairs)} adjacent pairs of runs "
              f"({min(pairs):.1%}–{max(pairs):.1%}{separate}) | {'yes' if share >= 0.95 else 'no'} |")
        elif off:
            share = statistics.median(r["events_per_s"] for r in cl) / statistics.median(off)
            w(f"| changelog: throughput with checkpoints every 1 s at least 95% of none | "
              f"{share:.1%} | {'yes' if share >= 0.95 else 'no'} |")
    cl = rows.get("changelog every 100ms", [])
    if cl:
        # Sustained: checkpoints completed at (nearly) the interval's rate over the run.
        rate = statistics.median(r["checkpoints"] / r["wall_s"] for r in cl)
        w(f"| changelog: a 100 ms interval sustained | {rate:.1f} checkpoints/s (of 10) | "
          f"{'yes' if rate >= 9 else 'no'} |")
    changelog_keys = [k for k, kind in first_record if kind.startswith("changelog")]
    if changelog_keys:
        keys = max(changelog_keys)
        inc = [r["first_record_ms"] for r in first_record.get((keys, "incremental"), [])]
        for (k, kind), rs in sorted(first_record.items()):
            if k != keys or not kind.startswith("changelog") or not inc:
                continue
            ratio = statistics.median(r["first_record_ms"] for r in rs) / statistics.median(inc)
            interval = kind.split(', ')[1]
            # An interval longer than the run never materializes: the whole state is replayed
            # from the log. Its row shows how replay grows with the interval; it is no setting
            # the goal is meant for.
            if interval.endswith("h"):
                w(f"| changelog: recovery to the first record ({keys:,} keys; {interval}: no "
                  f"materialization during the run, the whole log replayed; for comparison) | "
                  f"{ratio:.1f}x | — |")
                continue
            w(f"| changelog: recovery to the first record at most 2x the incremental "
              f"checkpoint's ({keys:,} keys; {interval}) | {ratio:.1f}x | "
              f"{'yes' if ratio <= 2 else 'no'} |")
    if first_record:
        keys = max(k for k, _ in first_record)
        inc = [r["first_record_ms"] for r in first_record.get((keys, "incremental"), [])]
        full = [r["first_record_ms"] for r in first_record.get((keys, "full"), [])]
        if inc and full:
            inc, full = statistics.median(inc), statistics.median(full)
            w(f"| recovery to the first record: incremental no slower than full ({keys:,} keys) "
              f"| {inc:.0f} vs {full:.0f} ms | {'yes' if inc <= full else 'no'} |")
    if recovery:
        largest = max(recovery)
        inc = statistics.median(recovery[largest].get("weir incremental", [0]))
        full = statistics.median(recovery[largest].get("weir full", [0]))
        w(f"| recovery from an incremental checkpoint no slower than from a full one ({largest} MiB) "
          f"| {inc:.0f} vs {full:.0f} ms | {'yes' if inc <= full else 'no'} |")
    for kind in ("incremental", "full"):
        ratios = {(old, new): statistics.median(r["vs_same"] for r in rs)
                  for (k, old, new, ingest), rs in rescale.items()
                  if k == kind and ingest and old != new}
        if ratios:
            worst = max(ratios.values())
            each = ", ".join(f"{old}→{new} {r:.2f}x" for (old, new), r in sorted(ratios.items()))
            w(f"| a rescaled restore from a{'n' if kind == 'incremental' else ''} {kind} checkpoint "
              f"at most 1.5x the same-parallelism restore ({rescale_mib} MiB) | {each} | "
              f"{'yes' if worst <= 1.5 else 'no'} |")
    w("")
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as f:
            w(f.read())
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
