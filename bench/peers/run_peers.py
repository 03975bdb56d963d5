#!/usr/bin/env python3
"""Side-by-side benchmark: bitcask, LMDB, LevelDB, RocksDB and Tkrzw on the same machine, same run.

Runs build/bench/peer_bench once per (engine, workload) in a process of its own and writes
  bench/results/peers.md    tables with ratios (peer time / bitcask time: > 1 means bitcask
                            is faster)
  bench/results/peers.csv   every measurement
  bench/results/peers_*.png plots (with Debian's python3-matplotlib)

  run_peers.py [--quick | --full] [--engines bitcask,lmdb,...] [--bin PATH] [--dir DIR]

--quick (the default) finishes in a few minutes; --full runs the seed grid at 1M keys and
10M keys of 100 bytes, and longer concurrent runs (about an hour on 2 cores).
"""

import argparse
import csv
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ENGINES = ["bitcask", "lmdb", "leveldb", "rocksdb", "tkrzw"]
# The system calls alone (pwritev / pread on one file, no index to keep): run with the grid,
# shown beside each cell of it.
FLOOR = "floor"


def plan(full):
    """(workload, params) pairs to run for every engine."""
    runs = []
    for n in ([100_000, 1_000_000] if full else [100_000]):
        for v in (100, 1000, 10000):
            runs.append(("grid", dict(n=n, v=v)))
    for n in ([1_000_000, 10_000_000] if full else [1_000_000]):
        runs.append(("load", dict(n=n, v=100)))
    runs.append(("mixed", dict(n=1_000_000 if full else 100_000, v=100,
                               ops=2_000_000 if full else 500_000)))
    for t in (1, 2, 4):
        runs.append(("readers", dict(n=1_000_000 if full else 100_000, v=100, threads=t,
                                     seconds=10 if full else 3)))
    for t in (1, 8):
        runs.append(("sync", dict(v=100, threads=t, seconds=10 if full else 3)))
    return runs


def run_one(binary, engine, workload, params, workdir):
    cmd = [binary, "--engine", engine, "--workload", workload, "--dir", workdir]
    for k, v in params.items():
        cmd += ["--" + k, str(v)]
    started = time.time()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        r.setdefault("threads", params.get("threads", 1))
        r["params"] = " ".join(f"{k}={v}" for k, v in params.items())
    print(f"  {engine:8} {workload:8} {rows[0]['params'] if rows else ''}: "
          f"{time.time() - started:.1f} s", flush=True)
    return rows


def fmt(x, digits=2):
    if x is None:
        return "-"
    if x >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def ratio(peer, ours):
    if peer is None or ours is None or ours == 0:
        return "-"
    return f"{peer / ours:.2f}x"


def human_bytes(b):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024:
            return f"{b:.1f} {unit}"
        b /= 1024
    return f"{b:.1f} TiB"


def report(rows, engines, args, elapsed):
    ops = [r for r in rows if "op" in r]
    metrics = [r for r in rows if "metric" in r]
    peers = [e for e in engines if e != "bitcask"]

    def op_value(engine, workload, op, params, field):
        for r in ops:
            if (r["engine"], r["workload"], r["op"], r["params"]) == (engine, workload, op, params):
                return r[field]
        return None

    def metric(engine, workload, name, params):
        for r in metrics:
            if (r["engine"], r["workload"], r["metric"], r["params"]) == (engine, workload, name, params):
                return r["value"]
        return None

    lines = []
    w = lines.append
    w("# bitcask side by side with LMDB, LevelDB, RocksDB and Tkrzw\n")
    w(f"Measured {datetime.date.today()} with: `make bench-peers` "
      f"(`{' '.join(sys.argv[1:]) or '--quick'}` to `bench/peers/run_peers.py`), on "
      f"{platform.node()}: {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
      f"mode `{'full' if args.full else 'quick'}`, {elapsed / 60:.1f} minutes.\n")
    w("Same durability class for all engines: no fsync per write except in the `sync` "
      "workload; each engine's configuration is in `bench/peers/engines.cc`. 16-byte keys, "
      "random incompressible values, a different value per key. Ratios are peer time / "
      "bitcask time, so **above 1x means bitcask is faster**. Each (engine, workload) runs in "
      "a process of its own; the order of engines rotates from one workload to the next.\n")

    # Latency tables, one per workload family.
    keys = []
    for r in ops:
        k = (r["workload"], r["op"], r["params"])
        if k not in keys:
            keys.append(k)
    w("## Mean latency, µs per operation\n")
    w("| workload | op | params | " + " | ".join(engines) + " | " +
      " | ".join(f"{p} / bitcask" for p in peers) + " |")
    w("|" + "---|" * (3 + len(engines) + len(peers)))
    for workload, op, params in keys:
        vals = {e: op_value(e, workload, op, params, "mean_us") for e in engines}
        w(f"| {workload} | {op} | {params} | " + " | ".join(fmt(vals[e]) for e in engines) +
          " | " + " | ".join(ratio(vals[p], vals.get("bitcask")) for p in peers) + " |")
    w("")
    # The grid against the fastest peer of each cell.
    grid = [k for k in keys if k[0] == "grid"]
    if grid and peers and "bitcask" in engines:
        w("## The grid against the best peer of each cell\n")
        w("bitcask's mean time over the fastest peer's in the same run: **at most 1.00x means "
          "bitcask is at least as fast as every peer** on that cell. The floor is the system "
          "calls alone, in the same run: each put a `pwritev` of key and value appended to one "
          "file, each get a `pread` from an offset known in advance, a batch one `pwritev` "
          "(`bench/peers/engines.cc`, FloorEngine). Reads through a mapping (bitcask, LMDB) can "
          "go under it: they make no system call.\n")
        w("| op | params | bitcask µs | best peer | its µs | bitcask / best | floor µs |")
        w("|---|---|--:|---|--:|--:|--:|")
        for workload, op, params in grid:
            ours = op_value("bitcask", workload, op, params, "mean_us")
            times = [(op_value(p, workload, op, params, "mean_us"), p) for p in peers]
            times = [t for t in times if t[0] is not None]
            if ours is None or not times:
                continue
            best, who = min(times)
            floor = op_value(FLOOR, workload, op, params, "mean_us")
            w(f"| {op} | {params} | {fmt(ours)} | {who} | {fmt(best)} | {ours / best:.2f}x | "
              f"{fmt(floor)} |")
        w("")
    w("## Latency percentiles (p50 / p99, µs)\n")
    w("| workload | op | params | " + " | ".join(engines) + " |")
    w("|" + "---|" * (3 + len(engines)))
    for workload, op, params in keys:
        cells = []
        for e in engines:
            p50 = op_value(e, workload, op, params, "p50_us")
            p99 = op_value(e, workload, op, params, "p99_us")
            cells.append("-" if p50 is None else f"{fmt(p50)} / {fmt(p99)}")
        w(f"| {workload} | {op} | {params} | " + " | ".join(cells) + " |")
    w("")
    w("## Throughput, operations per second\n")
    w("| workload | op | params | " + " | ".join(engines) + " |")
    w("|" + "---|" * (3 + len(engines)))
    for workload, op, params in keys:
        w(f"| {workload} | {op} | {params} | " +
          " | ".join(fmt(op_value(e, workload, op, params, "ops_per_sec"), 0) for e in engines) + " |")
    w("")

    # Space, memory and restart.
    w("## Space, memory and restart\n")
    w("`disk` is the store's size after close and its ratio to the logical bytes (keys + values); "
      "`heap/key` is the growth of the process's anonymous memory while loading, per key; "
      "`page cache/key` is file-backed memory mapped into the process (LMDB and bitcask read "
      "through mappings); `open` is close, reopen and one read.\n")
    w("| workload | params | engine | disk | space amp | heap/key | page cache/key | peak RSS | open ms |")
    w("|---|---|---|--:|--:|--:|--:|--:|--:|")
    seen = []
    for r in metrics:
        k = (r["workload"], r["params"])
        if k not in seen:
            seen.append(k)
    for workload, params in seen:
        for e in engines:
            disk = metric(e, workload, "disk_bytes", params)
            logical = metric(e, workload, "logical_bytes", params)
            if logical is None and workload == "grid":
                n = int(params.split("n=")[1].split()[0])
                v = int(params.split("v=")[1].split()[0])
                logical = n * (16 + v)
            heap = metric(e, workload, "heap_bytes_per_key", params)
            filek = metric(e, workload, "rss_file_bytes_per_key", params)
            peak = metric(e, workload, "peak_rss_bytes", params)
            opn = metric(e, workload, "open_ms", params)
            w(f"| {workload} | {params} | {e} | {human_bytes(disk) if disk else '-'} | "
              f"{(disk / logical) if disk and logical else 0:.2f} | {fmt(heap, 1)} | "
              f"{fmt(filek, 1)} | {human_bytes(peak) if peak else '-'} | {fmt(opn, 1)} |")
    w("")
    w("Plots: `peers_throughput.png` (operations per second by engine and workload), "
      "`peers_latency.png` (p50 and p99), `peers_memory.png` (heap bytes per key).\n")
    return "\n".join(lines) + "\n"


def plots(rows, engines, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (Debian: python3-matplotlib); skipping plots")
        return
    ops = [r for r in rows if "op" in r]
    labels = []
    for r in ops:
        label = f"{r['op']}\n{r['params']}".replace("seconds=", "s=")
        if label not in labels:
            labels.append(label)
    colors = {"bitcask": "#d62728", "lmdb": "#1f77b4", "leveldb": "#2ca02c", "rocksdb": "#9467bd",
              "tkrzw": "#ff7f0e"}

    def grouped(field, title, filename, log=True):
        fig, ax = plt.subplots(figsize=(max(10, len(labels) * 0.9), 6))
        width = 0.8 / len(engines)
        for i, e in enumerate(engines):
            ys = []
            for label in labels:
                v = None
                for r in ops:
                    if r["engine"] == e and f"{r['op']}\n{r['params']}".replace("seconds=", "s=") == label:
                        v = r[field]
                ys.append(v or 0)
            ax.bar([x + i * width for x in range(len(labels))], ys, width, label=e,
                   color=colors.get(e))
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))])
        ax.set_xticklabels(labels, rotation=70, fontsize=7)
        if log:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, filename), dpi=110)
        plt.close(fig)

    grouped("ops_per_sec", "Operations per second (log scale, higher is better)", "peers_throughput.png")
    grouped("p99_us", "p99 latency, µs (log scale, lower is better)", "peers_latency.png")

    mem = [r for r in rows if r.get("metric") == "heap_bytes_per_key"]
    if mem:
        fig, ax = plt.subplots(figsize=(8, 5))
        params = sorted({r["params"] for r in mem})
        width = 0.8 / len(engines)
        for i, e in enumerate(engines):
            ys = [next((r["value"] for r in mem if r["engine"] == e and r["params"] == p), 0) for p in params]
            ax.bar([x + i * width for x in range(len(params))], ys, width, label=e, color=colors.get(e))
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(params))])
        ax.set_xticklabels(params)
        ax.set_ylabel("heap bytes per key")
        ax.set_title("Process heap growth per key while loading (lower is better)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "peers_memory.png"), dpi=110)
        plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench", "peer_bench"))
    ap.add_argument("--dir", default="/tmp/bitcask-peers")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    engines = args.engines.split(",")
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    rows = []
    for i, (workload, params) in enumerate(plan(args.full)):
        print(f"{workload} {params}", flush=True)
        # Rotate who goes first: on a VM, memory touched for the first time is slow, and the
        # first engine of a workload gets the least of what the previous one freed.
        order = engines[i % len(engines):] + engines[:i % len(engines)]
        if workload == "grid":
            order.append(FLOOR)
        for e in order:
            rows += run_one(args.bin, e, workload, params, os.path.join(args.dir, e))
    elapsed = time.time() - started
    prefix = "peers-full" if args.full else "peers"
    with open(os.path.join(args.out, f"{prefix}.csv"), "w", newline="") as f:
        fields = ["engine", "workload", "op", "metric", "params", "n", "v", "threads", "ops",
                  "seconds", "mean_us", "p50_us", "p99_us", "ops_per_sec", "value"]
        wr = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        wr.writeheader()
        for r in rows:
            wr.writerow(r)
    md = report(rows, engines, args, elapsed)
    with open(os.path.join(args.out, f"{prefix}.md"), "w") as f:
        f.write(md)
    plots(rows, engines, args.out)
    print(md)


if __name__ == "__main__":
    main()
