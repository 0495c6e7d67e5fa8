"""The part of the embedded broker's log kept on disk instead of in the broker's memory.

The router's de-duplication and correlation windows keep a week of entries, and
``hub.delivery.status`` a week of outcomes: read from the start or not at all, never by a
consumer group's position. Restored into the embedded broker at every checkpoint they were
its rising floor (about 0.8 MB a minute at the demo's rate, bench/README.md (e)). So a
checkpoint's restore writes them here, and into the broker only fillers that hold their
offsets; readers read this file first, then the topic (:mod:`kafka_io.cold`).

The file is kept incrementally, one transaction per partition restored: rows are keyed by
their offset, so restoring the same checkpoint again (a stop in between) keeps each once.
Readers read it a page at a time, holding no lock while they apply a page, so a restore
never waits for one.
On a compacted topic a record replaces the older ones of its key, and a tombstone removes
them; records older than the topic's ``retention.ms`` go. The offsets are those of the
broker the checkpoint came from: a broker that ended without a checkpoint (a crash)
leaves a file of offsets no new broker has, which :meth:`ColdStore.forget` removes.
"""

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from kafka_io.cold import ColdRecord
from meldingshub.settings import Settings

__all__ = ["ColdStore", "cold_store", "cold_topics"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key BLOB, value BLOB, timestamp INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_key ON record (topic, partition, key);
CREATE INDEX IF NOT EXISTS record_time ON record (topic, timestamp);
"""

_PAGE = 10_000
"""Records a reader takes per query."""
_BUSY_S = 60.0
"""How long a write waits for a reader's query, and a reader for a write's commit."""

StoredRecord = tuple[int, bytes | None, bytes | None, int]
"""``(offset, key, value, timestamp ms)`` of one partition, as a checkpoint holds it."""


class ColdStore:
    """Records of the cold topics, by topic, partition and offset, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, topic: str, starts: Mapping[int, int]) -> Iterator[ColdRecord]:
        """The records of ``topic`` kept here, of each partition in ``starts`` from its
        offset there on, in offset order."""
        if not self.path.is_file():
            return
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=_BUSY_S)
        try:
            for partition, start in sorted(starts.items()):
                while page := db.execute(
                    "SELECT offset, key, value FROM record WHERE topic = ? AND partition = ?"
                    " AND offset >= ? ORDER BY offset LIMIT ?",
                    (topic, partition, start, _PAGE),
                ).fetchall():
                    yield from ((partition, key, value) for _o, key, value in page if key)
                    start = page[-1][0] + 1
        finally:
            db.close()

    def keep(
        self,
        topic: str,
        partition: int,
        records: Iterable[StoredRecord],
        *,
        compacted: bool,
        oldest_ms: int | None,
    ) -> int:
        """Add ``records`` of one partition (oldest first) in one transaction; drop what
        they supersede and, with ``oldest_ms``, what is older; return how many were added."""
        db = self._open()
        try:
            added = 0
            with db:
                for offset, key, value, timestamp in records:
                    if compacted and key is not None:
                        db.execute(
                            "DELETE FROM record WHERE topic = ? AND partition = ? AND key = ?"
                            " AND offset < ?",
                            (topic, partition, key, offset),
                        )
                        if value is None:
                            continue  # a tombstone: the key is gone
                    db.execute(
                        "INSERT OR REPLACE INTO record VALUES (?, ?, ?, ?, ?, ?)",
                        (topic, partition, offset, key, value, timestamp),
                    )
                    added += 1
                if oldest_ms is not None:
                    db.execute(
                        "DELETE FROM record WHERE topic = ? AND timestamp < ?", (topic, oldest_ms)
                    )
            return added
        finally:
            db.close()

    def size_bytes(self) -> int:
        """The file's size on disk (0 when there is none)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def forget(self) -> bool:
        """Remove the file; True when there was one."""
        existed = self.path.is_file()
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + "-journal").unlink(missing_ok=True)
        return existed

    def _open(self) -> sqlite3.Connection:
        if not self.path.exists():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Owner-only from the first byte, as the checkpoint it comes from.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        db = sqlite3.connect(self.path, timeout=_BUSY_S)
        db.executescript("PRAGMA synchronous=FULL;" + _SCHEMA)
        return db


def cold_topics(settings: Settings) -> set[str]:
    """Topics read only from the start, by readers without a group: the router's
    de-duplication and correlation windows, and the delivery status (the hub reads none)."""
    routing = settings.routing
    return {routing.dedup_topic, routing.sent_topic, settings.delivery.status_topic}


def cold_store(settings: Settings) -> ColdStore:
    """The embedded broker's cold store (:mod:`meldingshub.cold_store`)."""
    return ColdStore(settings.embedded_broker_dir / "cold.sqlite")
