#!/usr/bin/env python3
"""Replication: bitcask-server against redis-server, each leading its own replicas.

    python3 bench/replication_bench.py [--server build/bitcask-server] [--runs 3] [--out FILE]

Every figure is taken for both systems in the same run, on the same machine:

1. SET requests/s (redis-benchmark, 50 clients, 100-byte values) on a leader with 0, 1 and 2
   replicas on this machine: the cost of feeding replicas.
2. SET followed by `WAIT 1 0` from one client (redis-py): p50 / p99 of the pair, one replica.
3. Lag under load: the largest distance in bytes between the leader's offset and its replica's,
   sampled every 50 ms while redis-benchmark writes, and how long the replica takes to catch up
   once the load stops.
4. Full sync: a replica joining a leader that holds 1M keys of 100 bytes, from REPLICAOF to
   `master_link_status:up` with every byte applied.
5. Failover: three servers and three real Sentinels (down-after-milliseconds 1000); kill -9 of the
   leader to the first write a Sentinel-discovering client (redis-py) gets accepted. Median of
   --failovers rounds.

redis-server runs with `appendonly yes`, `appendfsync everysec`, `repl-diskless-sync yes` (its
default) and `repl-diskless-sync-delay 0` (not its default of 5 s, which waits for more replicas
before a sync starts); bitcask-server with its defaults (`appendfsync everysec`, diskless sync).
"""

import argparse
import datetime
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_bench import check_tools, free_port, run_benchmark, version, wait_ready, write_report  # noqa: E402

try:
    import redis
    from redis.sentinel import Sentinel
except ImportError:
    sys.exit("redis-py is missing (Debian package python3-redis; `make deps`)")


class Node:
    """One server process of either system."""

    def __init__(self, system, bitcask, work, name, replicaof=None, extra=()):
        self.system, self.port = system, free_port()
        self.dir = os.path.join(work, f"{name}-{self.port}")
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "node.conf")
        lines = [f"port {self.port}", f"dir {self.dir}", "bind 127.0.0.1"]
        if system == "redis":
            # repl-diskless-sync-delay 0: Redis's default of 5 s (waiting for more replicas to
            # share a sync) would be most of its full sync time here.
            lines += ["appendonly yes", "appendfsync everysec", 'save ""', f"logfile {self.dir}/log",
                      "repl-diskless-sync-delay 0"]
        else:
            lines += ["http-port 0", f"logfile {self.dir}/log"]
        if replicaof:
            lines.append(f"replicaof 127.0.0.1 {replicaof}")
        lines += list(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.argv = (["redis-server", self.conf] if system == "redis"
                     else [bitcask, "--config", self.conf])
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port, self.proc, f"{self.system} on {self.port}")
        self.client = redis.Redis(port=self.port)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def info(self, field):
        return self.client.info("replication").get(field)


def caught_up(leader, replicas):
    want = leader.info("master_repl_offset")
    return all(r.info("master_link_status") == "up" and r.info("slave_repl_offset") == want
               for r in replicas)


def wait_until(pred, limit, what):
    deadline = time.time() + limit
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.02)
    sys.exit(f"timed out after {limit} s waiting for {what}")


def group(system, bitcask, work, replicas, extra=()):
    leader = Node(system, bitcask, work, "leader", extra=extra)
    reps = [Node(system, bitcask, work, f"replica{i}", leader.port, extra) for i in range(replicas)]
    wait_until(lambda: len(reps) == 0 or caught_up(leader, reps), 60, f"{system} replicas to sync")
    return leader, reps


def stop_all(nodes):
    for n in nodes:
        n.kill()


def throughput(system, bitcask, work, replicas, requests):
    leader, reps = group(system, bitcask, work, replicas)
    try:
        return run_benchmark(leader.port, 1, requests, "SET")[0]
    finally:
        stop_all([leader] + reps)


def wait_latency(system, bitcask, work, n):
    leader, reps = group(system, bitcask, work, 1)
    try:
        c, times = leader.client, []
        for i in range(n):
            t0 = time.perf_counter()
            c.set(f"k{i}", "v" * 100)
            if c.wait(1, 0) != 1:
                sys.exit(f"{system}: WAIT 1 0 did not see the replica")
            times.append(time.perf_counter() - t0)
        times.sort()
        return times[len(times) // 2] * 1e3, times[int(len(times) * 0.99)] * 1e3
    finally:
        stop_all([leader] + reps)


def lag_under_load(system, bitcask, work, requests):
    leader, reps = group(system, bitcask, work, 1)
    replica = reps[0]
    try:
        bench = subprocess.Popen(["redis-benchmark", "-p", str(leader.port), "-t", "set", "-c", "50",
                                  "-n", str(requests), "-r", "100000", "-d", "100", "-q"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worst = 0
        while bench.poll() is None:
            lead = leader.info("master_repl_offset")
            worst = max(worst, lead - replica.info("slave_repl_offset"))
            time.sleep(0.05)
        t0 = time.time()
        wait_until(lambda: caught_up(leader, [replica]), 60, f"{system} replica to catch up")
        return worst, (time.time() - t0) * 1e3
    finally:
        stop_all([leader, replica])


def full_sync(system, bitcask, work, keys):
    leader = Node(system, bitcask, work, "leader")
    replica = None
    try:
        # Filled through redis-cli --pipe: the same bytes for both.
        payload = "".join(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$100\r\n{'v' * 100}\r\n"
                          for k in (f"key:{i:012d}" for i in range(keys)))
        subprocess.run(["redis-cli", "-p", str(leader.port), "--pipe"], input=payload.encode(),
                       check=True, capture_output=True)
        if leader.client.dbsize() != keys:
            sys.exit(f"{system}: the leader holds {leader.client.dbsize()} keys, not {keys}")
        replica = Node(system, bitcask, work, "replica")
        t0 = time.time()
        replica.client.replicaof("127.0.0.1", leader.port)
        wait_until(lambda: caught_up(leader, [replica]) and replica.client.dbsize() == keys, 600,
                   f"{system} full sync")
        return time.time() - t0
    finally:
        stop_all([n for n in (leader, replica) if n])


def failover(system, bitcask, work, rounds):
    """Median seconds from kill -9 of the leader to the first write accepted through Sentinel."""
    times = []
    for r in range(rounds):
        leader, reps = group(system, bitcask, work, 2)
        sentinels = []
        try:
            for s in range(3):
                port = free_port()
                sdir = os.path.join(work, f"sentinel-{port}")
                os.makedirs(sdir)
                conf = os.path.join(sdir, "sentinel.conf")
                with open(conf, "w") as f:
                    f.write(f"port {port}\nbind 127.0.0.1\ndir {sdir}\nlogfile {sdir}/log\n"
                            f"sentinel monitor g 127.0.0.1 {leader.port} 2\n"
                            "sentinel down-after-milliseconds g 1000\n"
                            "sentinel failover-timeout g 4000\nsentinel parallel-syncs g 1\n")
                p = subprocess.Popen(["redis-server", conf, "--sentinel"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                sentinels.append((port, p))
                wait_ready(port, p, "redis-sentinel")

            def sees_all():
                for port, _ in sentinels:
                    c = redis.Redis(port=port)
                    if len(c.sentinel_slaves("g")) != 2 or len(c.sentinel_sentinels("g")) != 2:
                        return False
                return True
            wait_until(sees_all, 60, "the Sentinels to see the group")
            client = Sentinel([("127.0.0.1", p) for p, _ in sentinels], socket_timeout=0.2)
            master = client.master_for("g", socket_timeout=0.2)
            master.set("before", 1)
            t0 = time.time()
            leader.kill()
            while True:
                try:
                    master.set("after", 1)
                    break
                except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                    if time.time() - t0 > 60:
                        sys.exit(f"{system}: no write accepted 60 s after the leader died")
                    time.sleep(0.01)
            times.append(time.time() - t0)
            print(f"  {system} failover {r + 1}/{rounds}: {times[-1]:.2f} s", file=sys.stderr, flush=True)
        finally:
            for _, p in sentinels:
                p.kill()
                p.wait()
            stop_all([leader] + reps)
    return statistics.median(times), min(times), max(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="build/bitcask-server")
    ap.add_argument("--runs", type=int, default=3, help="runs of each throughput line (median)")
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--wait-pairs", type=int, default=5000, help="SET + WAIT pairs timed")
    ap.add_argument("--sync-keys", type=int, default=1_000_000)
    ap.add_argument("--failovers", type=int, default=10)
    ap.add_argument("--out", help="write the Markdown report here too")
    args = ap.parse_args()
    check_tools(args.server)
    bitcask = os.path.abspath(args.server)
    systems = ("bitcask", "redis")
    work = tempfile.mkdtemp(prefix="bitcask-repl-bench-")
    res = {}
    try:
        for run in range(args.runs):
            for replicas in (0, 1, 2):
                order = systems if (run + replicas) % 2 == 0 else systems[::-1]
                for system in order:
                    v = throughput(system, bitcask, work, replicas, args.requests)
                    res.setdefault(("rps", system, replicas), []).append(v)
                    print(f"  run {run + 1} {system} {replicas} replicas: {v:,.0f} SET/s",
                          file=sys.stderr, flush=True)
        for system in systems:
            res[("wait", system)] = wait_latency(system, bitcask, work, args.wait_pairs)
            res[("lag", system)] = lag_under_load(system, bitcask, work, args.requests)
            res[("sync", system)] = full_sync(system, bitcask, work, args.sync_keys)
            print(f"  {system}: WAIT {res[('wait', system)]}, lag {res[('lag', system)]}, "
                  f"sync {res[('sync', system)]:.2f} s", file=sys.stderr, flush=True)
        for system in systems:
            res[("failover", system)] = failover(system, bitcask, work, args.failovers)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rps(system, n):
        return statistics.median(res[("rps", system, n)])

    lines = [
        "# Replication: bitcask-server vs redis-server",
        "",
        f"Measured {datetime.date.today()} with: `make bench-replication` (`python3 bench/replication_bench.py "
        f"--runs {args.runs} --requests {args.requests} --wait-pairs {args.wait_pairs} "
        f"--sync-keys {args.sync_keys} --failovers {args.failovers}`)  ",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
        f"{version(['redis-server', '--version'])}. Every server, replica, Sentinel and client runs on "
        "this machine: a replica takes CPU from its leader here, as it would not on its own machine.  ",
        "redis-server: `appendonly yes`, `appendfsync everysec`, `repl-diskless-sync-delay 0`; "
        "bitcask-server: defaults (`appendfsync everysec`).",
        "",
        "## SET requests/s with replicas",
        "",
        f"redis-benchmark -t set -c 50 -d 100 -r 100000 -n {args.requests}, median of {args.runs} runs.",
        "",
        "| replicas | bitcask SET/s | vs none | redis SET/s | vs none | bitcask / redis |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in (0, 1, 2):
        b, r = rps("bitcask", n), rps("redis", n)
        lines.append(f"| {n} | {b:,.0f} | {b / rps('bitcask', 0):.2f}x | {r:,.0f} | "
                     f"{r / rps('redis', 0):.2f}x | {b / r:.2f}x |")
    lines += [
        "",
        "## The rest",
        "",
        "| what | bitcask | redis | bitcask / redis |",
        "|---|---:|---:|---:|",
    ]
    bw, rw = res[("wait", "bitcask")], res[("wait", "redis")]
    lines.append(f"| SET + WAIT 1 0, p50 ms ({args.wait_pairs} pairs, one client) | {bw[0]:.3f} | {rw[0]:.3f} | {bw[0] / rw[0]:.2f}x |")
    lines.append(f"| SET + WAIT 1 0, p99 ms | {bw[1]:.3f} | {rw[1]:.3f} | {bw[1] / rw[1]:.2f}x |")
    bl, rl = res[("lag", "bitcask")], res[("lag", "redis")]
    lines.append(f"| largest lag under redis-benchmark SET load, bytes | {bl[0]:,} | {rl[0]:,} | |")
    lines.append(f"| catch-up after the load, ms | {bl[1]:.0f} | {rl[1]:.0f} | |")
    bs, rs = res[("sync", "bitcask")], res[("sync", "redis")]
    lines.append(f"| full sync of {args.sync_keys:,} keys (100 B), s | {bs:.2f} | {rs:.2f} | {bs / rs:.2f}x |")
    bf, rf = res[("failover", "bitcask")], res[("failover", "redis")]
    lines.append(f"| failover, kill -9 to first accepted write, median s (min-max of {args.failovers}) | "
                 f"{bf[0]:.2f} ({bf[1]:.2f}-{bf[2]:.2f}) | {rf[0]:.2f} ({rf[1]:.2f}-{rf[2]:.2f}) | {bf[0] / rf[0]:.2f}x |")
    lines += ["", "For time and latency rows, below 1x means bitcask is faster."]
    write_report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
