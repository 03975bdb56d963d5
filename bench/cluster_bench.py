#!/usr/bin/env python3
"""Cluster mode: bitcask-server against redis-server, each as a Redis Cluster node.

    python3 bench/cluster_bench.py [--server build/bitcask-server] [--runs 3] [--out FILE]

Every figure is taken for both systems in the same run, on the same machine:

1. The cost of routing: one server owning all 16384 slots, cluster mode on against off,
   redis-benchmark SET and GET (50 clients, 100-byte values, 1 and 16 commands per pipeline).
2. Shards: 1, 2 and 3 masters on this machine, all pinned to CPU 0 with taskset and
   redis-benchmark (--cluster for 2 and 3) pinned to CPU 1. Total requests/s, per shard, and
   server CPU time per request (user + system of every server process, over requests). With
   every server on one core the total cannot grow with shards: the figure that carries over
   to shards on machines of their own is CPU time per request.
3. Memory of the per-slot key index: a bitcask-server holding 1M keys, anonymous resident
   memory with cluster mode on against off, per key.

redis-server runs with `appendonly yes`, `appendfsync everysec` (as bitcask-server's default
durability); bitcask-server with its defaults.
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_bench import check_tools, free_port, run_benchmark, version, wait_ready, write_report  # noqa: E402

CLIENTS = 50


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_anon(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True).stdout.strip()


class Node:
    """One server of either system, in cluster mode or not, optionally pinned to a CPU."""

    def __init__(self, system, bitcask, work, cluster, cpu=None):
        self.system, self.port = system, free_port()
        self.dir = os.path.join(work, f"{system}-{self.port}")
        os.makedirs(self.dir)
        if system == "redis":
            argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                    "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                    "--logfile", os.path.join(self.dir, "log")]
            if cluster:
                argv += ["--cluster-enabled", "yes"]
        else:
            argv = [bitcask, "--port", str(self.port), "--dir", self.dir, "--http-port", "0",
                    "--logfile", os.path.join(self.dir, "log")]
            if cluster:
                argv += ["--cluster-enabled", "yes"]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port, self.proc, f"{system} on {self.port}")
        self.id = cli(self.port, "CLUSTER", "MYID") if system == "redis" and cluster else None

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def form_cluster(nodes):
    """Gives node i an equal share of the slots: Redis's by ADDSLOTSRANGE and MEET, bitcask's by
    CLUSTERX SETNODES. Returns once every node routes by the whole map."""
    n = len(nodes)
    ranges = [(i * 16384 // n, (i + 1) * 16384 // n - 1) for i in range(n)]
    if nodes[0].system == "redis":
        for node, (a, b) in zip(nodes, ranges):
            cli(node.port, "CLUSTER", "ADDSLOTSRANGE", str(a), str(b))
        for node in nodes[1:]:
            cli(node.port, "CLUSTER", "MEET", "127.0.0.1", str(nodes[0].port))
    else:
        the_map = "".join(f"{str(i + 1) * 40} 127.0.0.1 {node.port} master - {a}-{b}\n"
                          for i, (node, (a, b)) in enumerate(zip(nodes, ranges)))
        for node in nodes:
            if cli(node.port, "CLUSTERX", "SETNODES", the_map, "1") != "OK":
                sys.exit(f"node {node.port} refused the map")
    deadline = time.time() + 30
    while time.time() < deadline:
        infos = [cli(node.port, "CLUSTER", "INFO") for node in nodes]
        if all("cluster_state:ok" in i and f"cluster_known_nodes:{n}" in i for i in infos):
            time.sleep(0.5 if nodes[0].system == "redis" else 0)  # gossip settles
            return
        time.sleep(0.1)
    sys.exit(f"{nodes[0].system}: the cluster did not form")


def benchmark_cluster(nodes, test, requests):
    """redis-benchmark on CPU 1 against the nodes; requests/s and server CPU-s per request."""
    argv = ["taskset", "-c", "1", "redis-benchmark", "-p", str(nodes[0].port), "-t", test.lower(),
            "-c", str(CLIENTS), "-n", str(requests), "-r", "1000000", "-d", "100", "--csv", "-q"]
    if len(nodes) > 1:
        argv.append("--cluster")
    cpu0 = sum(cpu_seconds(n.proc.pid) for n in nodes)
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    cpu = sum(cpu_seconds(n.proc.pid) for n in nodes) - cpu0
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split('","')]
        if cells and cells[0] == test:
            return float(cells[1]), cpu / requests * 1e6
    sys.exit(f"redis-benchmark reported no {test}:\n{out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default=os.path.join(os.path.dirname(__file__), "..", "build", "bitcask-server"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--index-keys", type=int, default=1000000)
    ap.add_argument("--out")
    args = ap.parse_args()
    bitcask = os.path.abspath(args.server)
    check_tools(bitcask)
    if os.cpu_count() < 2:
        sys.exit("needs 2 CPUs (servers on CPU 0, the benchmark on CPU 1)")
    work = tempfile.mkdtemp(prefix="cluster-bench-")
    systems = ("bitcask", "redis")
    lines = []

    # 1. Routing: one node, cluster mode on and off.
    routing = {}
    for system in systems:
        for cluster in (False, True):
            node = Node(system, bitcask, work, cluster)
            if cluster:
                form_cluster([node])
            for pipeline in (1, 16):
                for test in ("SET", "GET"):
                    rps = [run_benchmark(node.port, pipeline, args.requests * (4 if pipeline > 1 else 1), test)[0]
                           for _ in range(args.runs)]
                    routing[(system, cluster, pipeline, test)] = statistics.median(rps)
            node.stop()

    # 2. Shards, all pinned to CPU 0.
    shards = {}
    for system in systems:
        for count in (1, 2, 3):
            nodes = [Node(system, bitcask, work, True, cpu=0) for _ in range(count)]
            form_cluster(nodes)
            for test in ("SET", "GET"):
                runs = [benchmark_cluster(nodes, test, args.requests) for _ in range(args.runs)]
                shards[(system, count, test)] = (statistics.median(r[0] for r in runs),
                                                 statistics.median(r[1] for r in runs))
            for node in nodes:
                node.stop()

    # 3. Memory of the per-slot index.
    memory = {}
    for cluster in (False, True):
        node = Node("bitcask", bitcask, work, cluster)
        if cluster:
            form_cluster([node])
        subprocess.run(["redis-benchmark", "-p", str(node.port), "-t", "set", "-n", str(args.index_keys),
                        "-r", str(args.index_keys * 100), "-d", "10", "-P", "64", "-c", "8", "-q"],
                       capture_output=True, check=True)
        keys = int(cli(node.port, "DBSIZE"))
        time.sleep(1)
        memory[cluster] = (keys, rss_anon(node.proc.pid))
        node.stop()

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines += [
        "# Cluster mode: bitcask-server and redis-server side by side",
        "",
        f"Measured {now} on {platform.node()} ({os.cpu_count()} CPUs) with `make bench-cluster`",
        f"(`python3 bench/cluster_bench.py --runs {args.runs} --requests {args.requests}`): medians of {args.runs} runs.",
        f"{version([bitcask, '--version'])}; {version(['redis-server', '--version'])}.",
        "",
        "## The cost of routing (one node owning every slot)",
        "",
        f"redis-benchmark, {CLIENTS} clients, 100-byte values, random keys. Requests/s.",
        "",
        "| system | pipeline | test | cluster off | cluster on | on / off |",
        "|---|--:|---|--:|--:|--:|",
    ]
    for system in systems:
        for pipeline in (1, 16):
            for test in ("SET", "GET"):
                off, on = routing[(system, False, pipeline, test)], routing[(system, True, pipeline, test)]
                lines.append(f"| {system} | {pipeline} | {test} | {off:,.0f} | {on:,.0f} | {on / off:.2f} |")
    lines += [
        "",
        "## Shards on one machine (servers on CPU 0, redis-benchmark on CPU 1)",
        "",
        "Total requests/s over all masters, per shard, and server CPU time per request (µs).",
        "bitcask / redis compares the totals.",
        "",
        "| shards | test | bitcask req/s | per shard | CPU µs/req | redis req/s | per shard | CPU µs/req | bitcask / redis |",
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for count in (1, 2, 3):
        for test in ("SET", "GET"):
            b, r = shards[("bitcask", count, test)], shards[("redis", count, test)]
            lines.append(f"| {count} | {test} | {b[0]:,.0f} | {b[0] / count:,.0f} | {b[1]:.1f} | "
                         f"{r[0]:,.0f} | {r[0] / count:,.0f} | {r[1]:.1f} | {b[0] / r[0]:.2f} |")
    (k_off, m_off), (k_on, m_on) = memory[False], memory[True]
    lines += [
        "",
        "## Memory of the per-slot key index",
        "",
        f"bitcask-server with {k_on:,} keys (10-byte values, keys like `key:000012345678`):",
        f"anonymous resident memory {m_off / 2**20:,.1f} MiB with cluster mode off, "
        f"{m_on / 2**20:,.1f} MiB on: **{(m_on - m_off) / max(k_on, 1):.0f} bytes per key** for the index.",
        "",
    ]
    write_report("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
