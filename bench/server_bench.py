#!/usr/bin/env python3
"""bitcask-server against a real redis-server, both driven by the real redis-benchmark.

    python3 bench/server_bench.py [--server build/bitcask-server] [--runs 3] [--out FILE]
                                  [--appendfsync everysec|always] [--clients 50] ...

Both servers run in the same durability class: redis-server with `appendonly yes` and the
same `appendfsync` as bitcask-server (`everysec` by default: fsync every second, bitcask's
default; `always`: no reply before an fsync covers it). Each line is redis-benchmark with 50
clients (`--clients`), 100-byte values over 100k random keys, without and with `-P 16`
pipelining. With `always` the report also gives the flush floor measured in the same run
(one small write + fdatasync in the servers' directory): no server can acknowledge more
than clients / floor writes a second. The servers take turns test by test, and the table
reports the median requests/s of the runs and the ratio bitcask / redis (above 1: bitcask
is faster). redis-benchmark shares the machine's cores with the server it measures, the same
for both.

bitcask-server runs once per `--io-threads` value (default `1,0`: one event loop, as Redis
has, and its default of one per core). On a small machine that also runs redis-benchmark the
single loop is the fair comparison: the client needs a core of its own.
"""

import argparse
import datetime
import csv
import io
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TESTS = ["SET", "GET", "INCR", "MSET"]
CLIENTS = 50
KEYSPACE = 100_000
VALUE_BYTES = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with status {proc.returncode} before accepting connections")
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    sys.exit(f"{what} did not answer PING on port {port} within 30 s")


class Server:
    def __init__(self, name, argv, port):
        self.name, self.argv, self.port = name, argv, port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port, self.proc, self.name)

    def stop(self):
        if self.proc is None:
            return
        subprocess.run(["redis-cli", "-p", str(self.port), "SHUTDOWN", "NOSAVE"], capture_output=True)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def flush_floor_us(directory, flushes=500):
    """Microseconds for one 178-byte write into an allocated file plus fdatasync."""
    path = os.path.join(directory, "floor")
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        os.posix_fallocate(fd, 0, flushes * 178)
        os.fsync(fd)
        data = b"f" * 178
        started = time.perf_counter()
        for i in range(flushes):
            os.pwrite(fd, data, i * 178)
            os.fdatasync(fd)
        return (time.perf_counter() - started) * 1e6 / flushes
    finally:
        os.close(fd)
        os.unlink(path)


def run_benchmark(port, pipeline, requests, test, clients=CLIENTS):
    argv = ["redis-benchmark", "-p", str(port), "-t", test.lower(),
            "-c", str(clients), "-n", str(requests), "-r", str(KEYSPACE), "-d", str(VALUE_BYTES),
            "-P", str(pipeline), "--csv", "-q"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rows = {}
    for row in csv.DictReader(io.StringIO(out)):
        name = row["test"].split(" ")[0]  # "MSET (10 keys)" -> "MSET"
        rows[name] = (float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"]))
    if test not in rows:
        sys.exit(f"redis-benchmark reported no {test} on port {port}:\n{out}")
    return rows[test]


def check_tools(server):
    """Exits with what to install or build if redis's tools or the server are missing."""
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (Debian packages redis-server and redis-tools; `make deps`)")
    if not os.access(server, os.X_OK):
        sys.exit(f"{server} not found; build it with `make build`")


def write_report(text, out):
    """Prints the Markdown report, and writes it to `out` too if given."""
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)


def version(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    return (r.stdout or r.stderr).strip().splitlines()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="build/bitcask-server")
    ap.add_argument("--runs", type=int, default=3, help="runs per server and line (median)")
    ap.add_argument("--requests", type=int, default=200_000, help="requests per test without pipelining")
    ap.add_argument("--pipelined-requests", type=int, default=1_000_000, help="requests per test with -P 16")
    ap.add_argument("--io-threads", default="1,0",
                    help="bitcask-server event loops, one server per comma-separated value (0: one per core)")
    ap.add_argument("--appendfsync", default="everysec", choices=["everysec", "always"],
                    help="both servers' appendfsync")
    ap.add_argument("--clients", default=str(CLIENTS), help="redis-benchmark clients, comma-separated")
    ap.add_argument("--tests", default=",".join(TESTS), help="redis-benchmark tests, comma-separated")
    ap.add_argument("--pipelines", default="1,16", help="pipeline depths, comma-separated")
    ap.add_argument("--out", help="write the Markdown table here too")
    args = ap.parse_args()
    check_tools(args.server)

    try:
        loops = [int(n) for n in args.io_threads.split(",")]
        clients = [int(n) for n in args.clients.split(",")]
        pipelines = [int(n) for n in args.pipelines.split(",")]
    except ValueError:
        sys.exit("--io-threads, --clients and --pipelines take comma-separated integers")
    tests = args.tests.upper().split(",")
    fsync = args.appendfsync

    work = tempfile.mkdtemp(prefix="bitcask-server-bench-")
    servers = []
    for n in loops:
        name = f"bitcask-server --io-threads {n or os.cpu_count()}"
        port = free_port()
        bargv = [args.server, "--dir", os.path.join(work, f"bitcask-{n}"), "--port", str(port),
                 "--http-port", "0", "--appendfsync", fsync, "--logfile", os.path.join(work, f"bitcask-{n}.log")]
        if n:
            bargv += ["--io-threads", str(n)]
        servers.append(Server(name, bargv, port))
    rport = free_port()
    os.makedirs(os.path.join(work, "redis"))
    rargv = ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", os.path.join(work, "redis"),
             "--appendonly", "yes", "--appendfsync", fsync, "--save", "",
             "--logfile", os.path.join(work, "redis.log")]
    servers.append(Server("redis-server", rargv, rport))

    results = {}  # (server, clients, pipeline, test) -> [(rps, p50, p99)]
    floors = []
    try:
        for s in servers:
            s.start()
        # The servers take turns test by test, so that the figures compared were taken within
        # seconds of each other: this machine's speed drifts by 20% over minutes.
        for c in clients:
            for pipeline in pipelines:
                requests = args.requests if pipeline == 1 else args.pipelined_requests
                for run in range(args.runs):
                    order = servers if run % 2 == 0 else servers[::-1]  # nobody always goes first
                    if fsync == "always":
                        floors.append(flush_floor_us(work))
                    for t in tests:
                        line = []
                        for s in order:
                            v = run_benchmark(s.port, pipeline, requests, t, c)
                            results.setdefault((s.name, c, pipeline, t), []).append(v)
                            line.append(f"{s.name} {v[0]:>9.0f}/s")
                        print(f"  c={c:<3} P={pipeline:<2} run {run + 1}/{args.runs} {t:5s} " + "  ".join(line),
                              file=sys.stderr, flush=True)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)

    def median(name, c, p, t, i):
        return statistics.median(v[i] for v in results[(name, c, p, t)])

    command = (f"python3 bench/server_bench.py --runs {args.runs} --io-threads {args.io_threads}"
               + (f" --appendfsync {fsync} --clients {args.clients} --tests {args.tests} "
                  f"--pipelines {args.pipelines} --requests {args.requests}" if fsync != "everysec" else ""))
    bitcasks = [s.name for s in servers[:-1]]
    lines = [
        "# bitcask-server vs redis-server (redis-benchmark)" + (", appendfsync always" if fsync == "always" else ""),
        "",
        f"Measured {datetime.date.today()} with: `make bench-server` (`{command}`)  ",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
        f"{version(['redis-server', '--version'])}  ",
        f"Workload: redis-benchmark, {args.clients} clients, {VALUE_BYTES}-byte values, {KEYSPACE} random keys "
        f"(`-r {KEYSPACE}`), {args.requests} requests per test without pipelining"
        + (f" and {args.pipelined_requests} with `-P 16`" if 16 in pipelines else "")
        + "; MSET sets 10 keys per request. "
        f"Median of {args.runs} runs; the servers take turns test by test. redis-benchmark runs on the same machine.  ",
    ]
    if fsync == "always":
        floor = statistics.median(floors)
        lines += [
            "Durability: both `appendfsync always` (redis-server `--appendonly yes`): no reply before an "
            "fsync covers the write.  ",
            f"Flush floor in the same run: one 178-byte write + `fdatasync` took {floor:.0f} µs (median of "
            f"{len(floors)} measurements): one write per flush would allow {1e6 / floor:,.0f} writes/s; "
            f"C clients sharing every flush at most C x that.",
        ]
    else:
        lines.append("Durability: redis-server `--appendonly yes --appendfsync everysec`; bitcask-server "
                     "`--appendfsync everysec` (fsync once a second).")
    lines.append("")
    for name in bitcasks:
        lines += [
            f"## {name}",
            "",
            "| test | clients | pipeline | bitcask req/s | redis req/s | bitcask / redis | bitcask p50 / p99 ms | redis p50 / p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in clients:
            for pipeline in pipelines:
                for t in tests:
                    b = median(name, c, pipeline, t, 0)
                    r = median("redis-server", c, pipeline, t, 0)
                    lines.append(
                        f"| {t} | {c} | {pipeline} | {b:,.0f} | {r:,.0f} | {b / r:.2f}x | "
                        f"{median(name, c, pipeline, t, 1):.3f} / {median(name, c, pipeline, t, 2):.3f} | "
                        f"{median('redis-server', c, pipeline, t, 1):.3f} / {median('redis-server', c, pipeline, t, 2):.3f} |")
        lines.append("")
    write_report("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
