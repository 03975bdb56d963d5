"""bitcask: a Bitcask key-value store (C++ engine) with the pybitcask API.

    from bitcask import Bitcask

    with Bitcask("data_directory") as db:
        db.put("key1", "value1")
        db.put("key2", {"name": "test", "values": [1, 2, 3]})
        db.get("key1")                      # 'value1'
        db.delete("key1")                   # True
        db.keys(prefix="key")               # ['key2']
        with db.batch() as b:               # atomic
            b.put("a", 1)
            b.delete("key2")

Values come back as the type they went in: str, bytes, or any JSON value (numbers, bool,
None, lists, dicts). See docs/PYTHON.md for how each is stored.
"""

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from ._bitcask import (  # noqa: F401  (re-exported)
    Batch,
    ClosedError,
    CorruptionError,
    DiskError,
    Error,
    InvalidArgumentError,
    LockedError,
    NotSupportedError,
    ScanIterator,
    Store,
    __version__,
)

__all__ = [
    "Bitcask",
    "Batch",
    "Error",
    "CorruptionError",
    "LockedError",
    "ClosedError",
    "InvalidArgumentError",
    "DiskError",
    "NotSupportedError",
    "default_directory",
]


def default_directory() -> Path:
    """Where Bitcask() keeps its data when no directory is given.

    $BITCASK_DATA_DIR if set, else $XDG_DATA_HOME/pybitcask, else ~/.local/share/pybitcask:
    a per-user directory, so it works without root (the seed project used /var/lib/pybitcask).
    """
    explicit = os.environ.get("BITCASK_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "pybitcask"


class Bitcask(Store):
    """A Bitcask store in one directory.

    Bitcask(directory=None, *, sync="none", sync_interval_ms=1000, max_file_size=256 MiB,
            compression="none", compression_min_bytes=256, read_only=False, create=True,
            auto_merge=True, raw=False, salvage=False)

    sync: "none" (the OS flushes; a write survives a crash of the process), "interval"
    (flushed every sync_interval_ms) or "always" (flushed before put returns; concurrent
    writers share flushes). compression: "none", "lz4" or "zstd", per value of at least
    compression_min_bytes. read_only: open beside a writer, without taking its lock.
    raw: values are bytes in and out, with no type tag (to share a store with
    bitcask-server or other clients). salvage: open a damaged store (one that raises
    CorruptionError) by skipping the records that fail their checksum; a merge() then
    rewrites it without them, after which it opens normally.

    Every method may be called from any thread. Errors raise bitcask.Error subclasses.
    """

    def __init__(self, directory: Optional["os.PathLike[str] | str | bytes"] = None,
                 **options: Any):
        path = default_directory() if directory is None else directory
        super().__init__(path, **options)
        self._scheduler: Optional["_CompactionScheduler"] = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<bitcask.Bitcask {self.directory!r} ({state})>"

    # ---- the seed project's API -------------------------------------------------------------

    def list_keys(self) -> list:
        """All live keys (a list, in key order)."""
        return self.keys()

    def clear(self) -> None:
        """Deletes every key, then merges so the space comes back."""
        while True:
            keys = self.keys(limit=10000)
            if not keys:
                break
            with self.batch() as b:
                for k in keys:
                    b.delete(k)
        self.merge()

    def get_compaction_stats(self) -> Dict[str, Any]:
        """total_files, total_size, live_keys, estimated_live_size, estimated_dead_ratio."""
        s = self.stats()
        total = s["total_bytes"]
        return {
            "total_files": s["data_files"],
            "total_size": total,
            "live_keys": s["live_keys"],
            "estimated_live_size": s["live_bytes"],
            "estimated_dead_ratio": (s["dead_bytes"] / total) if total else 0.0,
        }

    def should_compact(self, threshold_ratio: float = 0.3) -> bool:
        """True if at least threshold_ratio of the data is dead (as the seed decided it: never
        for less than 1 MiB in all, nor for a single file under 10 MiB)."""
        s = self.get_compaction_stats()
        if s["total_size"] < 1024 * 1024:
            return False
        if s["total_files"] < 2 and s["total_size"] < 10 * 1024 * 1024:
            return False
        return s["estimated_dead_ratio"] >= threshold_ratio

    def compact(self, threshold_ratio: float = 0.3, force: bool = False) -> Dict[str, Any]:
        """Merges if should_compact(threshold_ratio) (or force); returns what it did.

        The result has the seed's keys: performed, and either reason (not performed) or
        duration_seconds, records_written, bytes_written, files_removed, removed_files,
        space_saved_bytes, space_saved_ratio; plus initial_stats and final_stats.
        """
        initial = self.get_compaction_stats()
        if not force and not self.should_compact(threshold_ratio):
            return {"performed": False, "reason": "threshold_not_met", "initial_stats": initial}
        before = {f["id"] for f in self.stats()["files"]}
        started = time.monotonic()
        self.merge()
        duration = time.monotonic() - started
        after = self.stats()
        final = self.get_compaction_stats()
        removed = sorted(before - {f["id"] for f in after["files"]})
        saved = initial["total_size"] - final["total_size"]
        return {
            "performed": True,
            "duration_seconds": duration,
            "records_written": final["live_keys"],
            "bytes_written": final["estimated_live_size"],
            "files_removed": len(removed),
            "removed_files": [os.path.join(self.directory, f"{i:08d}.data") for i in removed],
            "initial_stats": initial,
            "final_stats": final,
            "space_saved_bytes": saved,
            "space_saved_ratio": saved / initial["total_size"] if initial["total_size"] else 0.0,
        }

    def start_auto_compaction(
        self,
        interval_seconds: float = 300,
        threshold_ratio: float = 0.3,
        on_compaction_complete: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> None:
        """Every interval_seconds, compact(threshold_ratio) in a background thread; after a
        compaction that ran, on_compaction_complete(result). (The engine also merges by
        itself, by its own thresholds, unless opened with auto_merge=False.)"""
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        if not 0.0 <= threshold_ratio <= 1.0:
            raise ValueError("threshold_ratio must be between 0.0 and 1.0")
        self.stop_auto_compaction()
        self._scheduler = _CompactionScheduler(self, interval_seconds, threshold_ratio,
                                               on_compaction_complete)
        self._scheduler.start()

    def stop_auto_compaction(self) -> None:
        """Stops the thread start_auto_compaction started (waits for a running compaction)."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None

    def close(self) -> None:
        """Stops automatic compaction, flushes and closes. Later calls raise ClosedError."""
        self.stop_auto_compaction()
        super().close()

    def __exit__(self, *exc: Any) -> bool:
        self.close()
        return False

    def __del__(self) -> None:
        scheduler = getattr(self, "_scheduler", None)
        if scheduler is not None:
            scheduler.stop()


class _CompactionScheduler(threading.Thread):
    def __init__(self, db: Bitcask, interval: float, threshold: float,
                 callback: Optional[Callable[[Dict[str, Any]], None]]):
        super().__init__(name="bitcask-compaction", daemon=True)
        self._db = db
        self._interval = interval
        self._threshold = threshold
        self._callback = callback
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            try:
                result = self._db.compact(threshold_ratio=self._threshold)
            except ClosedError:
                return
            except Error:
                continue  # a failed merge leaves the store as it was; try again next time
            if result.get("performed") and self._callback is not None:
                try:
                    self._callback(result)
                except Exception:  # the caller's bug must not kill the scheduler
                    pass

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()
