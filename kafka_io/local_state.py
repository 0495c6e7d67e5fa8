"""Keyed state on local disk, so a process's memory does not grow with the messages it saw.

The router remembers every message for days (de-duplication, AppRec correlation):
millions of keys at national rates. Held in Python dicts that is about half a
kilobyte per message; here it is a SQLite table with a bounded page cache, so
memory stays flat and the disk holds the rest. The file is a cache of a Kafka
changelog, never the truth: it is unlinked as soon as it is open (nothing is left
behind, even after SIGKILL) and rebuilt from the changelog on every start.
"""

import os
import sqlite3
import threading
from collections.abc import Iterable
from itertools import groupby
from pathlib import Path

_EXPIRE_EVERY = 10_000
"""Writes between two sweeps of expired keys."""
_COMMIT_EVERY = 1_000
"""Writes per SQLite transaction; reads see uncommitted writes of the same connection."""

Row = tuple[int, bytes, int, str | None]
"""``(partition, key, stamp ms, value)``; a value of None deletes the key (a tombstone)."""


class LocalState:
    """Per-partition ``key -> (stamp ms, value)`` with a time-to-live; safe across threads."""

    def __init__(self, directory: Path, name: str, ttl_ms: int, cache_mib: int = 4) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}-{os.getpid()}-{threading.get_ident()}-{id(self)}.sqlite3"
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode=OFF",  # a cache: a crash discards the whole file anyway
            "synchronous=OFF",
            "temp_store=MEMORY",
            f"cache_size=-{cache_mib * 1024}",
        ):
            self._db.execute(f"PRAGMA {pragma}").fetchall()
        self._db.execute(
            "CREATE TABLE state (partition INTEGER NOT NULL, key BLOB NOT NULL,"
            " stamp INTEGER NOT NULL, value TEXT NOT NULL,"
            " PRIMARY KEY (partition, key)) WITHOUT ROWID"
        )
        self._db.execute("CREATE INDEX state_stamp ON state (stamp)")
        path.unlink()  # the open connection keeps the file; nothing outlives the process
        self._ttl_ms = ttl_ms
        self._lock = threading.Lock()
        self._writes = 0
        self._newest_ms = 0

    def get(self, partition: int, key: bytes, now_ms: int) -> tuple[int, str] | None:
        """``(stamp, value)`` of ``key``, or None when absent or older than the time-to-live."""
        with self._lock:
            row = self._db.execute(
                "SELECT stamp, value FROM state WHERE partition = ? AND key = ?", (partition, key)
            ).fetchone()
        if row is None or row[0] < now_ms - self._ttl_ms:
            return None
        return int(row[0]), str(row[1])

    def put(self, partition: int, key: bytes, stamp_ms: int, value: str) -> None:
        """Set ``key`` (replacing what it held)."""
        self.put_many([(partition, key, stamp_ms, value)])

    def put_many(self, rows: Iterable[Row]) -> None:
        """Apply a changelog batch in order: set keys, delete those whose value is None."""
        rows = list(rows)
        if not rows:
            return
        with self._lock:
            self._begin()
            for is_tombstone, group in groupby(rows, key=lambda row: row[3] is None):
                if is_tombstone:
                    self._db.executemany(
                        "DELETE FROM state WHERE partition = ? AND key = ?",
                        [(row[0], row[1]) for row in group],
                    )
                else:
                    self._db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?)", group)
            self._newest_ms = max(self._newest_ms, max(row[2] for row in rows))
            self._wrote(len(rows))

    def delete(self, partition: int, key: bytes) -> None:
        """Forget ``key``."""
        self.put_many([(partition, key, 0, None)])

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget every key of ``partitions``."""
        with self._lock:
            self._begin()
            self._db.executemany(
                "DELETE FROM state WHERE partition = ?", [(p,) for p in partitions]
            )
            self._commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM state").fetchone()[0])

    def close(self) -> None:
        """Close and so delete the file."""
        with self._lock:
            self._db.close()

    # -- under the lock -----------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    def _wrote(self, count: int) -> None:
        before = self._writes
        self._writes += count
        if self._writes // _EXPIRE_EVERY != before // _EXPIRE_EVERY:
            self._db.execute("DELETE FROM state WHERE stamp < ?", (self._newest_ms - self._ttl_ms,))
        if self._writes // _COMMIT_EVERY != before // _COMMIT_EVERY:
            self._commit()

    def _commit(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
