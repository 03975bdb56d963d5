"""Tests of the Python package: the seed project's API and behaviour, and what goes beyond it.

Run with `python -m unittest discover bitcask/tests` (or the seed's
`python -m unittest bitcask/tests/test_bitcask.py`) from a directory where `bitcask` imports.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import bitcask
from bitcask import Bitcask

HERE = pathlib.Path(__file__).resolve()


def find_examples():
    """The repository's examples/ directory, if these tests run from a source checkout."""
    for parent in HERE.parents:
        candidate = parent / "examples"
        if (candidate / "iot_data_store.py").exists():
            return candidate
    return None


class TempStoreTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="bitcask-py-")
        self.dir = os.path.join(self._tmp.name, "db")
        self.dbs = []

    def tearDown(self):
        for db in self.dbs:
            try:
                db.close()
            except bitcask.Error:
                pass
        self._tmp.cleanup()

    def open(self, **options):
        db = Bitcask(self.dir, **options)
        self.dbs.append(db)
        return db

    def reopen(self, db, **options):
        db.close()
        return self.open(**options)


class SeedCompatibilityTest(TempStoreTest):
    """What the seed README and its later versions promise."""

    def test_json_values_round_trip_as_equal_objects(self):
        db = self.open()
        values = {
            "str": "value1",
            "dict": {"name": "test", "values": [1, 2, 3]},
            "list": [1, "two", 3.0, None, True],
            "int": 42,
            "big": 2**62,
            "float": 2.5,
            "bool": False,
            "none": None,
            "empty": "",
            "unicode": "naïve 日本",
        }
        for k, v in values.items():
            db.put(k, v)
        for _ in range(2):
            for k, v in values.items():
                self.assertEqual(db.get(k), v, k)
                self.assertIs(type(db.get(k)), type(v), k)
            db = self.reopen(db)

    def test_missing_and_deleted_keys_return_none(self):
        db = self.open()
        self.assertIsNone(db.get("never"))
        db.put("k", "v")
        self.assertTrue(db.delete("k"))
        self.assertFalse(db.delete("k"))
        self.assertIsNone(db.get("k"))
        db = self.reopen(db)
        self.assertIsNone(db.get("k"), "a delete must stay deleted after reopening")

    def test_keys_and_list_keys(self):
        db = self.open()
        for k in ["b", "a", "c"]:
            db.put(k, 1)
        db.delete("c")
        self.assertEqual(db.keys(), ["a", "b"])
        self.assertEqual(db.list_keys(), ["a", "b"])

    def test_batch_write(self):
        db = self.open()
        db.batch_write({"a": 1, "b": {"x": [1]}, "c": "three"})
        self.assertEqual(db.get("b"), {"x": [1]})
        self.assertEqual(len(db), 3)

    def test_clear(self):
        db = self.open(max_file_size=64 * 1024)
        db.batch_write({f"k{i}": "v" * 100 for i in range(5000)})
        db.clear()
        self.assertEqual(db.keys(), [])
        self.assertEqual(len(db), 0)
        db.put("after", 1)
        db = self.reopen(db)
        self.assertEqual(db.keys(), ["after"])

    def test_compaction_stats_and_compact(self):
        db = self.open(max_file_size=256 * 1024, auto_merge=False)
        for round_ in range(4):
            db.batch_write({f"k{i}": f"round {round_} " + "x" * 200 for i in range(3000)})
        stats = db.get_compaction_stats()
        self.assertEqual(set(stats), {"total_files", "total_size", "live_keys",
                                      "estimated_live_size", "estimated_dead_ratio"})
        self.assertEqual(stats["live_keys"], 3000)
        self.assertGreater(stats["total_files"], 2)
        self.assertAlmostEqual(stats["estimated_dead_ratio"], 0.75, delta=0.05)
        self.assertTrue(db.should_compact(0.5))
        self.assertFalse(db.should_compact(0.9))
        skipped = db.compact(threshold_ratio=0.9)
        self.assertFalse(skipped["performed"])
        self.assertEqual(skipped["reason"], "threshold_not_met")
        result = db.compact(threshold_ratio=0.3)
        self.assertTrue(result["performed"])
        for key in ("duration_seconds", "records_written", "bytes_written", "files_removed",
                    "removed_files", "initial_stats", "final_stats", "space_saved_bytes",
                    "space_saved_ratio"):
            self.assertIn(key, result)
        self.assertEqual(result["records_written"], 3000)
        self.assertGreater(result["space_saved_ratio"], 0.6)
        self.assertEqual(result["files_removed"], len(result["removed_files"]))
        self.assertLess(db.get_compaction_stats()["estimated_dead_ratio"], 0.05)
        self.assertEqual(db.get("k7"), "round 3 " + "x" * 200)
        forced = db.compact(force=True)
        self.assertTrue(forced["performed"])

    def test_should_compact_ignores_small_stores(self):
        db = self.open()
        for _ in range(10):
            db.put("k", "v" * 100)
        self.assertGreater(db.get_compaction_stats()["estimated_dead_ratio"], 0.5)
        self.assertFalse(db.should_compact(0.1))

    def test_auto_compaction_calls_back(self):
        db = self.open(max_file_size=256 * 1024, auto_merge=False)
        for round_ in range(4):
            db.batch_write({f"k{i}": "x" * 300 for i in range(3000)})
        done = threading.Event()
        results = []

        def on_complete(result):
            results.append(result)
            done.set()

        db.start_auto_compaction(interval_seconds=0.05, threshold_ratio=0.3,
                                 on_compaction_complete=on_complete)
        self.assertTrue(done.wait(30), "no compaction within 30 s")
        db.stop_auto_compaction()
        self.assertTrue(results[0]["performed"])
        self.assertEqual(len(db), 3000)
        with self.assertRaises(ValueError):
            db.start_auto_compaction(interval_seconds=0)
        with self.assertRaises(ValueError):
            db.start_auto_compaction(threshold_ratio=1.5)

    def test_default_directory_is_per_user(self):
        old = os.environ.get("BITCASK_DATA_DIR")
        os.environ["BITCASK_DATA_DIR"] = self.dir
        try:
            db = Bitcask()
            self.dbs.append(db)
            self.assertEqual(db.directory, self.dir)
        finally:
            if old is None:
                del os.environ["BITCASK_DATA_DIR"]
            else:
                os.environ["BITCASK_DATA_DIR"] = old
        saved = {k: os.environ.pop(k, None) for k in ("BITCASK_DATA_DIR", "XDG_DATA_HOME")}
        try:
            self.assertEqual(bitcask.default_directory(),
                             pathlib.Path.home() / ".local" / "share" / "pybitcask")
        finally:
            for k, v in saved.items():
                if v is not None:
                    os.environ[k] = v

    def test_pybitcask_is_the_same_package(self):
        import pybitcask
        self.assertIs(pybitcask.Bitcask, Bitcask)
        self.assertIs(pybitcask.Error, bitcask.Error)


class BeyondSeedTest(TempStoreTest):
    def test_bytes_values_and_keys_are_raw(self):
        db = self.open()
        blob = bytes(range(256)) * 4
        db.put("blob", blob)
        db.put(b"\xff\x00key", bytearray(b"ba"))
        db.put("view", memoryview(b"mv"))
        db = self.reopen(db)
        self.assertEqual(db.get("blob"), blob)
        self.assertEqual(db.get(b"\xff\x00key"), b"ba")
        self.assertEqual(db.get("view"), b"mv")
        self.assertIn(b"\xff\x00key", db.keys())  # not UTF-8: comes back as bytes
        self.assertIn("blob", db.keys())

    def test_str_keys_and_values_of_every_length_and_script(self):
        # ASCII takes a short way in and out of the store; every length around a machine word
        # and a non-ASCII character at each position take the other.
        db = self.open()
        texts = [""]
        for n in range(1, 20):
            texts.append("".join(chr(ord("a") + i % 26) for i in range(n)))
            for at in range(n):
                for ch in ("é", "日", "\U0001F600", "\x7f", "\x80"):
                    texts.append("a" * at + ch + "b" * (n - at - 1))
        for i, t in enumerate(texts):
            db.put(t, t)
            db.put(f"v{i}", t)
        for _ in range(2):
            for i, t in enumerate(texts):
                self.assertEqual(db.get(t), t, repr(t))
                self.assertIs(type(db.get(t)), str)
                self.assertEqual(db.get(f"v{i}"), t, repr(t))
            self.assertEqual(set(db.keys()) - {f"v{i}" for i in range(len(texts))}, set(texts))
            db = self.reopen(db)
        self.assertTrue(all(type(k) is str for k in db.keys()))

    def test_str_and_json_string_stay_apart(self):
        db = self.open()
        db.put("s", '{"a": 1}')      # a str that looks like JSON
        db.put("j", {"a": 1})
        self.assertEqual(db.get("s"), '{"a": 1}')
        self.assertEqual(db.get("j"), {"a": 1})

    def test_mapping_protocol_and_iteration(self):
        with self.open() as db:
            db["a"] = 1
            db["b"] = [2]
            self.assertEqual(db["b"], [2])
            self.assertIn("a", db)
            self.assertNotIn("z", db)
            self.assertEqual(len(db), 2)
            self.assertEqual(list(db), ["a", "b"])
            self.assertEqual(list(db.items()), [("a", 1), ("b", [2])])
            self.assertEqual(list(db.values()), [1, [2]])
            del db["a"]
            with self.assertRaises(KeyError):
                db["a"]
            with self.assertRaises(KeyError):
                del db["a"]
            self.assertEqual(db.get("a", "default"), "default")
        self.assertTrue(db.closed)

    def test_range_and_prefix_scans(self):
        db = self.open()
        db.batch_write({f"log:{i:04d}": i for i in range(100)})
        db.batch_write({f"metric:{i}": i for i in range(10)})
        self.assertEqual(db.keys(prefix="log:001"), [f"log:{i:04d}" for i in range(10, 20)])
        self.assertEqual(db.keys(start="log:0095", end="metric:"), [f"log:{i:04d}" for i in range(95, 100)])
        self.assertEqual(db.keys(prefix="log:", reverse=True, limit=3),
                         ["log:0099", "log:0098", "log:0097"])
        self.assertEqual(list(db.items(prefix="metric:", limit=2)), [("metric:0", 0), ("metric:1", 1)])
        self.assertEqual(sum(db.values(prefix="log:")), sum(range(100)))
        self.assertEqual(db.keys(prefix="nothing"), [])
        self.assertEqual(db.keys(prefix="log:009", reverse=True),
                         [f"log:{i:04d}" for i in range(99, 89, -1)])
        db.delete("log:0095")
        self.assertEqual(len(db.keys(prefix="log:009")), 9)
        self.assertEqual(db.keys(prefix=b"metric:"), [f"metric:{i}" for i in range(10)])
        with self.assertRaises(ValueError):
            db.keys(limit=-1)

    def test_scan_sees_writes_made_while_iterating(self):
        db = self.open()
        db.batch_write({f"k{i:05d}": i for i in range(2000)})
        seen = 0
        for key, value in db.items():
            if seen == 10:
                db.delete("k01999")      # not reached yet: must not be seen
            seen += 1
        self.assertEqual(seen, 1999)

    def test_batch_is_atomic_and_aborts_on_exception(self):
        db = self.open()
        db.put("keep", 1)
        with db.batch() as b:
            b.put("a", 1)
            b.put("b", 2)
            b.delete("keep")
            self.assertEqual(len(b), 3)
            self.assertIsNone(db.get("a"))  # nothing applied before the block ends
        self.assertEqual((db.get("a"), db.get("b"), db.get("keep")), (1, 2, None))
        with self.assertRaises(RuntimeError):
            with db.batch() as b:
                b.put("c", 3)
                raise RuntimeError("abort")
        self.assertIsNone(db.get("c"))
        b = db.batch()
        b.put("d", 4)
        b.commit(sync=True)
        self.assertEqual(db.get("d"), 4)

    def test_get_many(self):
        db = self.open()
        db.put("a", 1)
        db.put(b"b", b"x")
        db.put("c", {"k": [1]})
        db.put("gone", 1, ttl=0.001)
        time.sleep(0.01)
        self.assertEqual(db.get_many(["a", b"b", "c", "nope", "gone"]),
                         [1, b"x", {"k": [1]}, None, None])
        self.assertEqual(db.get_many(iter(["c", "a"]), default=0), [{"k": [1]}, 1])
        self.assertEqual(db.get_many(keys=[]), [])
        with self.assertRaises(TypeError):
            db.get_many(["a", 1])
        db.close()
        with self.assertRaises(bitcask.ClosedError):
            db.get_many(["a"])

    def test_get_many_never_sees_half_a_batch(self):
        db = self.open()
        keys = [f"k{i}" for i in range(300)]  # enough for get_many to let go of the GIL
        stop = threading.Event()

        def write():
            i = 0
            while not stop.is_set():
                i += 1
                with db.batch() as b:
                    for k in keys:
                        b.put(k, i)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            torn = 0
            for _ in range(1000):
                if len(set(db.get_many(keys))) != 1:
                    torn += 1
        finally:
            stop.set()
            writer.join()
        self.assertEqual(torn, 0)

    def test_checkpoint(self):
        db = self.open()
        for i in range(100):
            db.put(f"k{i}", i)
        target = pathlib.Path(self._tmp.name) / "backup"
        db.checkpoint(target)
        db.put("after", 1)
        with bitcask.Bitcask(target) as copy:
            self.assertEqual(len(copy), 100)
            self.assertEqual(copy.get("k7"), 7)
            self.assertIsNone(copy.get("after"))
        with self.assertRaises(bitcask.InvalidArgumentError):
            db.checkpoint(target)  # exists

    def test_paths_as_bytes_and_undecodable_names(self):
        # A bytes path names the directory it spells (not "b'...'"), and so does a str that
        # holds undecodable bytes as os.listdir returns them.
        base = os.fsencode(self._tmp.name)
        raw = base + b"/store-\xff"
        with bitcask.Bitcask(raw) as db:
            db.put("k", 1)
            self.assertEqual(db.directory, os.fsdecode(raw))
            db.checkpoint(base + b"/copy-\xfe")
        self.assertEqual(sorted(os.listdir(base)), [b"copy-\xfe", b"store-\xff"])
        with bitcask.Bitcask(os.fsdecode(base + b"/copy-\xfe")) as copy:
            self.assertEqual(copy.get("k"), 1)
        with self.assertRaises(TypeError):
            bitcask.Bitcask(42)

    def test_ttl(self):
        db = self.open()
        db.put("gone", 1, expire_at=time.time() - 1)
        db.put("later", 2, expire_at=time.time() + 3600)
        db.put("soon", 3, ttl=3600)
        with db.batch() as b:
            b.put("batch-gone", 4, expire_at=1.0)
            b.put("batch-kept", 5, ttl=3600)
        self.assertIsNone(db.get("gone"))
        self.assertNotIn("gone", db)
        self.assertEqual(db.get("later"), 2)
        self.assertEqual(db.get("soon"), 3)
        self.assertIsNone(db.get("batch-gone"))
        self.assertEqual(db.get("batch-kept"), 5)
        self.assertEqual(len(db), 3)
        self.assertEqual(db.keys(), ["batch-kept", "later", "soon"])
        with self.assertRaises(ValueError):
            db.put("x", 1, ttl=-5)
        # Not finite, or too large for milliseconds: an error that says so, never a key
        # that silently never expires (or expires at once).
        for bad in (float("nan"), float("inf"), 1e300, 1e17, 0):
            with self.assertRaisesRegex(ValueError, "positive, finite number of seconds"):
                db.put("x", 1, ttl=bad)
            with self.assertRaisesRegex(ValueError, "positive, finite number of seconds"):
                db.put("x", 1, expire_at=bad)
            with self.assertRaisesRegex(ValueError, "positive, finite number of seconds"):
                db.batch().put("x", 1, ttl=bad)
        with self.assertRaisesRegex(TypeError, "real number"):
            db.put("x", 1, ttl="60")
        with self.assertRaises(OverflowError):
            db.put("x", 1, ttl=10**400)
        self.assertNotIn("x", db)
        # A TTL below a millisecond is one millisecond, not "no expiry".
        db.put("blink", 1, ttl=0.0001)
        time.sleep(0.01)
        self.assertIsNone(db.get("blink"))

    def test_sync_merge_stats_check(self):
        db = self.open(sync="always", max_file_size=64 * 1024)
        for i in range(500):
            db.put(f"k{i % 50}", "v" * 200)
        db.sync()
        s = db.stats()
        self.assertEqual(s["live_keys"], 50)
        self.assertGreater(s["syncs"], 0)
        self.assertGreater(s["dead_bytes"], 0)
        self.assertIn("p99_us", s["put_latency"])
        db.merge()
        self.assertEqual(db.stats()["merges"], 1)
        self.assertEqual(db.stats()["merge_failures"], 0)
        self.assertEqual(db.stats()["last_merge_error"], "")
        self.assertEqual(db.stats()["write_error"], "")
        report = db.check()
        self.assertTrue(report["ok"], report)
        self.assertGreater(report["records"], 0)

    def test_options(self):
        db = self.open(compression="zstd", compression_min_bytes=64, sync="interval",
                       sync_interval_ms=50, max_file_size=1 << 20)
        doc = {"text": "repeat " * 200}
        db.put("doc", doc)
        self.assertLess(db.stats()["total_bytes"], 600)
        db = self.reopen(db)
        self.assertEqual(db.get("doc"), doc)
        with self.assertRaises(ValueError):
            self.open(compression="gzip")
        with self.assertRaises(ValueError):
            self.open(max_file_size=10)  # InvalidArgumentError is a ValueError

    def test_read_only_beside_a_writer(self):
        writer = self.open()
        writer.put("k", "v1")
        reader = Bitcask(self.dir, read_only=True)
        self.dbs.append(reader)
        self.assertEqual(reader.get("k"), "v1")
        with self.assertRaises(bitcask.InvalidArgumentError):
            reader.put("k", "v2")
        with self.assertRaises(bitcask.LockedError):
            Bitcask(self.dir)

    def test_raw_mode_shares_values_with_other_clients(self):
        db = self.open(raw=True)
        db.put("k", b"plain bytes")
        db.put("s", "text")
        self.assertEqual(db.get("k"), b"plain bytes")
        self.assertEqual(db.get("s"), b"text")
        with self.assertRaises(TypeError):
            db.put("d", {"a": 1})
        db = self.reopen(db)
        with self.assertRaises(bitcask.Error):
            db.get("k")  # written without a type tag: the typed API says so

    def test_json_scalars_are_stored_as_json_dumps_writes_them(self):
        # None, bools, ints and floats are encoded and decoded without the json module: the
        # stored bytes must be json.dumps's, and what comes back json.loads's.
        import math
        values = [None, True, False, 0, 1, -1, 7, 2**31, -2**63, 2**63 - 1, 2**63, -2**63 - 1,
                  10**30, -10**40, 0.0, -0.0, 1.5, -2.25, 0.1, 1e16, 1e-7, 5e-324, 1.7976931348623157e308,
                  float("nan"), float("inf"), float("-inf"), 123456789.123456789]
        db = self.open()
        for i, v in enumerate(values):
            db.put(f"k{i}", v)
        db = self.reopen(db)
        for i, v in enumerate(values):
            got = db.get(f"k{i}")
            self.assertIs(type(got), type(v), v)
            if isinstance(v, float) and math.isnan(v):
                self.assertTrue(math.isnan(got))
            else:
                self.assertEqual(got, v)
                self.assertEqual(math.copysign(1, got) if isinstance(v, float) else 0,
                                 math.copysign(1, v) if isinstance(v, float) else 0)
        db.close()
        raw = self.open(raw=True)
        for i, v in enumerate(values):
            self.assertEqual(raw.get(f"k{i}"), b"j" + json.dumps(v).encode(), v)

    def test_json_containers_match_json_dumps_and_loads(self):
        # Lists and dicts go to the json module's C encoder and scanner directly: the stored
        # text must be json.dumps's, the objects read back json.loads's, errors the same.
        values = [[], {}, [1, 2.5, "x", None, True], {"b": 1, "a": [{"c": []}]},
                  {"é": "日本", "emoji": "😀", "ctl": "\n\t\x00"}, (1, 2), {1: "int key"},
                  [float("inf"), -0.0, 10**40, 1e-300], [[[[["deep"]]]]], {"": ""}]
        db = self.open()
        for i, v in enumerate(values):
            db.put(f"k{i}", v)
        for i, v in enumerate(values):
            self.assertEqual(db.get(f"k{i}"), json.loads(json.dumps(v)), v)
        circular = []
        circular.append(circular)
        with self.assertRaisesRegex(ValueError, "Circular"):
            db.put("c", circular)
        with self.assertRaisesRegex(TypeError, "not JSON serializable"):
            db.put("c", {"x": object()})
        db.close()
        raw = self.open(raw=True)
        for i, v in enumerate(values):
            self.assertEqual(raw.get(f"k{i}"), b"j" + json.dumps(v).encode(), v)

    def test_json_written_by_other_clients_reads_as_json_loads_reads_it(self):
        # Values another client wrote with a 'j' tag: whatever json.loads makes of the text
        # (a value or a ValueError), a typed get makes the same.
        texts = ["0", "-0", "01", "-", "1.", ".5", "1e5", "1E+2", "-1e-2", "1.0", "00", "+1",
                 " 1", "1 ", "true", "True", "null", "NaN", "Infinity", "-Infinity", "nan",
                 "123456789012345678", "1234567890123456789", "99999999999999999999999",
                 "1e400", "-1e400", "1_000", "0x10", "", "[1, 2]", '{"a": 1}', '"s"', "1e", "1.e3",
                 " [1] ", "[1] ", "[1,", '{"a":1}x', '{"a" : [ 1 , 2 ]}', "[1]\n", '"\\ud83d"',
                 '{"a": 1, "a": 2}', "\ufeff[1]", "[NaN, Infinity]"]
        raw = self.open(raw=True)
        for i, t in enumerate(texts):
            raw.put(f"k{i}", b"j" + t.encode())
        raw.close()
        db = self.open()
        for i, t in enumerate(texts):
            try:
                expected = json.loads(t)
            except ValueError as e:
                with self.assertRaises(ValueError, msg=t):
                    db.get(f"k{i}")
                continue
            got = db.get(f"k{i}")
            self.assertIs(type(got), type(expected), t)
            if expected == expected:  # not NaN
                self.assertEqual(got, expected, t)

    def test_call_arguments(self):
        # get and put bind their arguments themselves (they skip pybind11's dispatcher): the
        # positional fast path, keywords, and every way of calling them wrong.
        db = self.open()
        db.put(key="k", value="v")
        db.put("k2", value=[1, 2], ttl=3600, sync=False)
        self.assertEqual(db.get("k"), "v")
        self.assertEqual(db.get(key="k2"), [1, 2])
        self.assertEqual(db.get("missing", "dflt"), "dflt")
        self.assertEqual(db.get("missing", default=5), 5)
        self.assertIsNone(db.get("missing"))
        for bad in (lambda: db.put("k", "v", 5),  # ttl is keyword-only here
                    lambda: db.put("k", "v", colour=1),
                    lambda: db.put("k", key="x", value="v"),
                    lambda: db.put("k"),
                    lambda: db.get(),
                    lambda: db.get("k", None, None),
                    lambda: db.get("k", default=1, fallback=2)):
            with self.assertRaises(TypeError):
                bad()
        self.assertEqual(db.get("k"), "v")

    def test_unreadable_page_raises_disk_error(self):
        # A data file cut short under the open store reads, through the mapping, like a
        # sector the disk cannot read (SIGBUS, which ended the interpreter): the gets of its
        # keys raise DiskError naming the file; the rest of the store reads and writes on.
        db = self.open(max_file_size=65536)
        for i in range(1500):
            db.put(f"k{i}", "v" * 100)
        db = self.reopen(db, max_file_size=65536)
        first = os.path.join(self.dir, "00000001.data")
        os.truncate(first, 4096)
        with self.assertRaises(bitcask.DiskError) as cm:
            db.get("k200")
        self.assertIn(first, str(cm.exception))
        self.assertIn("SIGBUS", str(cm.exception))
        self.assertEqual(db.get("k1400"), "v" * 100)
        db.put("fresh", 1)
        self.assertEqual(db.get("fresh"), 1)

    def test_typed_errors(self):
        db = self.open()
        with self.assertRaises(bitcask.InvalidArgumentError) as cm:
            db.put("k" * 70000, 1)
        self.assertIn("65535", str(cm.exception))
        self.assertTrue(issubclass(bitcask.InvalidArgumentError, ValueError))
        self.assertTrue(issubclass(bitcask.DiskError, OSError))
        with self.assertRaises(TypeError):
            db.put("k", object())
        with self.assertRaises(TypeError):
            db.put(3, "v")
        db.close()
        for call in (lambda: db.get("k"), lambda: db.put("k", 1), lambda: db.keys(),
                     lambda: len(db), lambda: db.merge()):
            with self.assertRaises(bitcask.ClosedError):
                call()
        db.close()  # closing twice is fine

    def test_corruption_is_an_error_not_data(self):
        db = self.open()
        db.put("victim", "x" * 100)
        db.put("other", "fine")
        path = os.path.join(self.dir, "00000001.data")
        with open(path, "r+b") as f:
            f.seek(16 + 27 + 6 + 50)  # inside the value of the first record
            f.write(b"!")
        with self.assertRaises(bitcask.CorruptionError) as cm:
            db.get("victim")
        self.assertIn("00000001.data", str(cm.exception))
        self.assertEqual(db.get("other"), "fine")
        self.assertFalse(db.check()["ok"])

    def test_salvage_opens_a_damaged_store_and_merge_mends_it(self):
        db = self.open()
        for i in range(10):
            db.put(f"k{i}", "v" * 50)
        db.close()
        os.remove(os.path.join(self.dir, "00000001.hint"))  # the open reads the records
        path = os.path.join(self.dir, "00000001.data")
        with open(path, "r+b") as f:
            f.seek(16 + 27 + 2 + 20)  # inside the value of the first record
            f.write(b"!")
        with self.assertRaises(bitcask.CorruptionError) as cm:
            bitcask.Bitcask(self.dir)
        self.assertIn("00000001.data offset 16", str(cm.exception))
        db = bitcask.Bitcask(self.dir, salvage=True)
        self.assertNotIn("k0", db)
        self.assertEqual(len(db), 9)
        self.assertGreater(db.stats()["corrupt_bytes_skipped"], 0)
        self.assertEqual(db.stats()["damaged_keys_dropped"], 0)
        db.merge()
        db.close()
        db = bitcask.Bitcask(self.dir)
        self.assertTrue(db.check()["ok"])
        self.assertEqual(sorted(db.keys()), [f"k{i}" for i in range(1, 10)])
        db.close()

    def test_threads(self):
        db = self.open()
        errors = []

        def work(t):
            try:
                for i in range(2000):
                    db.put(f"t{t}-{i % 100}", [t, i])
                    value = db.get(f"t{t}-{i % 100}")
                    if value != [t, i]:
                        errors.append((t, i, value))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(db), 800)

    def test_merge_releases_the_gil(self):
        db = self.open(max_file_size=1 << 20, auto_merge=False)
        for round_ in range(3):
            db.batch_write({f"k{i}": "x" * 100 for i in range(30000)})
        ticks = 0
        merging = threading.Thread(target=db.merge)
        merging.start()
        while merging.is_alive():
            ticks += 1  # runs only while merge() does not hold the GIL
        merging.join()
        self.assertGreater(ticks, 0)
        self.assertEqual(db.stats()["merges"], 1)

    def test_a_forked_child_leaves_the_store_to_the_parent(self):
        # In a script of its own, so that the child exits the normal way, finalizing the
        # store object it inherited: before, that hung forever (and a put in the child wrote
        # into the parent's file).
        script = """
import os, sys
import bitcask
from bitcask import Bitcask
d = sys.argv[1]
db = Bitcask(d, sync="interval")
for i in range(500):
    db.put(f"k{i}", "before")
pid = os.fork()
if pid == 0:
    for call in (lambda: db.put("child", 1), lambda: db.get("k1"), lambda: len(db)):
        try:
            call()
            print("child: not refused")
        except bitcask.ClosedError as e:
            assert "forked" in str(e), e
    reader = Bitcask(d, read_only=True)
    assert reader.get("k1") == "before"
    reader.close()
    sys.exit(0)
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status))
for i in range(500, 1000):
    db.put(f"k{i}", "after")
db.close()
db = Bitcask(d)
bad = [i for i in range(1000) if db.get(f"k{i}") != ("before" if i < 500 else "after")]
print("wrong", len(bad), "child key", db.get("child"))
"""
        out = subprocess.run([sys.executable, "-c", script, self.dir], capture_output=True,
                             text=True, timeout=60, env=dict(os.environ))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "child exit 0\nwrong 0 child key None\n", out.stderr)


@unittest.skipIf(find_examples() is None, "examples/ not found (not a source checkout)")
class ExamplesTest(unittest.TestCase):
    """The seed README's examples run unchanged."""

    def run_example(self, name):
        with tempfile.TemporaryDirectory(prefix="bitcask-example-") as cwd:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                [str(pathlib.Path(bitcask.__file__).parent.parent)] +
                ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
            proc = subprocess.run([sys.executable, str(find_examples() / name)], cwd=cwd,
                                  env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            return proc.stdout

    def test_basic_operations(self):
        out = self.run_example("basic_operations.py")
        self.assertIn("value1", out)
        self.assertIn("after reopen: ['key2']", out)

    def test_iot_data_store(self):
        out = self.run_example("iot_data_store.py")
        self.assertIn("'temperature': 25.5", out)

    def test_log_aggregator(self):
        out = self.run_example("log_aggregator.py")
        self.assertIn("range scan agrees: 20 entries", out)


if __name__ == "__main__":
    unittest.main()
