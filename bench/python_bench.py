"""The seed's benchmark grid through the Python package, with the seed's own figures beside it.

    PYTHONPATH=build/python python3 bench/python_bench.py [--quick] [--n LIST] [--v LIST] [--out FILE.md]

Like the seed's benchmark (benchmarks/benchmark.py in pybitcask): 10-character random
alphanumeric keys, random alphanumeric str values of V characters, one thread, sync off.
Unlike it, each figure is the wall time of a loop over all N keys divided by N (the seed timed
1000 calls one by one with perf_counter, which adds about 0.1 µs per call), and batch_write is
the real batch API (batch_write of 1000 keys at a time; the seed looped over put()).

The grid is measured PASSES times over (5; the passes run one after the other, so a cell's
runs are spread over the whole benchmark) and each figure is the best of its runs, as Python's
timeit recommends: on a shared machine the slower runs measure the neighbours (on the
development VM the same loop moves by 2x from one minute to the next).

"call" is the bare cost of one Python call to a C function with two arguments in the same
kind of loop (dict.get): what any binding pays before it does anything.
"""

import argparse
import datetime
import os
import random
import shutil
import string
import sys
import tempfile
import time

from bitcask import Bitcask

# The seed README's table, microseconds: (N, V) -> batch_write, delete, random_read, read, write
SEED = {
    (1000, 100): (3.77, 3.13, 14.6, 14.26, 4.1),
    (1000, 1000): (6.44, 3.09, 16.71, 15.76, 6.74),
    (1000, 10000): (27.58, 3.06, 27.39, 26.59, 27.4),
    (10000, 100): (4.0, 2.87, 14.31, 14.32, 3.98),
    (10000, 1000): (6.56, 3.1, 15.84, 15.78, 6.62),
    (10000, 10000): (28.35, 2.78, 27.83, 26.65, 27.47),
    (100000, 100): (3.66, 3.12, 15.76, 14.57, 3.73),
    (100000, 1000): (7.21, 3.05, 16.83, 16.06, 6.49),
    (100000, 10000): (27.54, 3.16, 27.68, 26.93, 29.41),
}
OPS = ("batch_write", "delete", "random_read", "read", "write")
PASSES = 5


def per_op(fn, n):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e6 / n


def measure(n, v, workdir):
    rng = random.Random(n * 7 + v)
    alphabet = string.ascii_letters + string.digits
    keys = list({"".join(rng.choices(alphabet, k=10)) for _ in range(n * 2)})[:n]
    pool = "".join(rng.choices(alphabet, k=v + 4096))
    values = [pool[i % 4096:i % 4096 + v] for i in range(n)]
    order = keys[:]
    rng.shuffle(order)
    path = os.path.join(workdir, f"db-{n}-{v}")
    shutil.rmtree(path, ignore_errors=True)
    r = {}
    db = Bitcask(path, auto_merge=False)
    put, get, delete = db.put, db.get, db.delete

    def writes():
        for k, val in zip(keys, values):
            put(k, val)

    def reads():
        for k in keys:
            get(k)

    def random_reads():
        for k in order:
            get(k)

    def random_get_many():
        get_many = db.get_many
        for i in range(0, n, 100):
            get_many(order[i:i + 100])

    def deletes():
        for k in keys:
            delete(k)

    r["write"] = per_op(writes, n)
    r["read"] = per_op(reads, n)
    r["random_read"] = per_op(random_reads, n)
    r["get_many"] = per_op(random_get_many, n)
    r["delete"] = per_op(deletes, n)
    db.close()
    shutil.rmtree(path)
    db = Bitcask(path, auto_merge=False)

    def batches():
        for i in range(0, n, 1000):
            db.batch_write(dict(zip(keys[i:i + 1000], values[i:i + 1000])))

    r["batch_write"] = per_op(batches, n)
    db.close()
    shutil.rmtree(path)

    d = {}
    f = d.get

    def calls():
        for k in keys:
            f(k, None)

    r["call"] = per_op(calls, n)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 10k only")
    ap.add_argument("--out", help="also write the Markdown report here")
    ap.add_argument("--n", help="comma-separated entry counts (default 10000,100000)")
    ap.add_argument("--v", help="comma-separated value sizes (default 100,1000,10000)")
    args = ap.parse_args()
    ns = [10000] if args.quick else [10000, 100000]
    if args.n:
        ns = [int(x) for x in args.n.split(",")]
    vs = [int(x) for x in args.v.split(",")] if args.v else [100, 1000, 10000]
    lines = [
        "# Python package against pybitcask\n",
        f"Measured {datetime.date.today()} with: `make bench` "
        "(`PYTHONPATH=build/python python3 bench/python_bench.py`). "
        "`seed` below is pybitcask, the pure-Python implementation whose API the package keeps.\n",
        f"Python {sys.version.split()[0]}, microseconds per call, one thread, sync off, best of "
        f"{PASSES} runs spread over the benchmark. "
        "`seed` is the pure-Python seed's published figure for the same cell; `x` how many "
        "times faster this package is. `get_many` reads the random order 100 keys a call "
        "(per key); `call` is a dict.get call, the floor of any Python call.\n",
        "| (N, V) | " + " | ".join(OPS) + " | get_many | call | " +
        " | ".join(f"seed {o}" for o in OPS) + " | " + " | ".join(f"x {o}" for o in OPS) + " |",
        "|:--|" + "--:|" * (3 * len(OPS) + 2),
    ]
    print("\n".join(lines), flush=True)
    workdir = tempfile.mkdtemp(prefix="bitcask-pybench-")
    try:
        cells = [(n, v) for n in ns for v in vs]
        best = {}
        for p in range(PASSES):
            print(f"pass {p + 1} of {PASSES}", file=sys.stderr, flush=True)
            for cell in cells:
                r = measure(*cell, workdir)
                best[cell] = {k: min(x, best[cell][k]) for k, x in r.items()} if cell in best else r
        for n, v in cells:
            r = best[(n, v)]
            seed = SEED.get((n, v))
            row = (f"| ({n}, {v}) | " + " | ".join(f"{r[o]:.2f}" for o in OPS) +
                   f" | {r['get_many']:.2f} | {r['call']:.2f} | ")
            if seed is None:  # a cell the seed did not measure
                row += " | ".join("-" for _ in range(2 * len(OPS))) + " |"
            else:
                row += (" | ".join(f"{s:.2f}" for s in seed) + " | " +
                        " | ".join(f"{s / r[o]:.0f}x" for s, o in zip(seed, OPS)) + " |")
            print(row, flush=True)
            lines.append(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
