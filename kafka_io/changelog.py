"""Key-value state kept beside a consumer's partitions and backed by a compacted changelog topic.

The state of input partition *p* is written to partition *p* of the changelog
inside the same transaction as the outputs and offsets, so it is exactly as
committed. When a partition is assigned, its state is read back from the
changelog (``read_committed``) into a local file (:class:`LocalState`), after what
of it is kept off the broker (:mod:`kafka_io.cold`). The state stays when the partition
is revoked or the consumer restarts: assigned again, the partition is read on from where
it was read to, which brings in what other consumers wrote meanwhile. A key this process
wrote in a transaction that was aborted stays too: the record that wrote it is processed
again, and its reader tells the same record from another with the same key. This is the
state-store pattern of Kafka Streams, kept small.
"""

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from kafka_io.cold import ColdRecords, in_batches
from kafka_io.local_state import LocalState, Row
from kafka_io.placed_records import readable
from kafka_io.records import OutRecord

log = structlog.get_logger(__name__)


class ChangelogState:
    """Per-partition ``key -> (timestamp ms, value)`` with a time-to-live."""

    def __init__(
        self,
        client_config: dict[str, Any],
        topic: str,
        ttl_ms: int,
        directory: Path,
        cold: ColdRecords | None = None,
    ) -> None:
        self._config = {
            **client_config,
            "group.id": f"{topic}.restore",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            # A position that compaction or retention has passed reads on from the start.
            "auto.offset.reset": "earliest",
        }
        self.topic = topic
        self._ttl_ms = ttl_ms
        self._state = LocalState(directory, topic, ttl_ms)
        self._read_to: dict[int, int] = {}
        """Changelog partition -> the offset the local state has read it to."""
        self._cold = cold

    def restore(self, partitions: Iterable[int], timeout_s: float = 60.0) -> int:
        """Bring the local state of ``partitions`` up to their changelog's end; return the
        entries read. A partition read before is read on from where it was read to (what
        this process wrote since comes again, and what others wrote while it was assigned
        elsewhere), so a restart of the consumer costs what was written meanwhile, not the
        window."""
        starts = {p: self._read_to.get(p, 0) for p in partitions}
        if not starts:
            return 0
        oldest = int(time.time() * 1000) - self._ttl_ms
        restored = 0
        consumer = Consumer(self._config)
        try:
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), 10)[1]
                for p in starts
            }
            # A changelog that ends before where it was read to was made anew: from the start.
            starts = {p: 0 if start > ends[p] else start for p, start in starts.items()}
            if self._cold is not None:
                for batch in in_batches(self._cold.read(self.topic, starts)):
                    kept = [row for record in batch if (row := _row(*record, oldest)) is not None]
                    self._state.put_many(kept)
                    restored += sum(row[3] is not None for row in kept)
            pending = {p for p, end in ends.items() if end > starts[p]}
            for p in starts.keys() - pending:
                self._read_to[p] = max(starts[p], ends[p])
            consumer.assign(
                [
                    TopicPartition(self.topic, p, starts[p] or OFFSET_BEGINNING)
                    for p in sorted(pending)
                ]
            )
            deadline = time.monotonic() + timeout_s
            while pending and time.monotonic() < deadline:
                rows: list[Row] = []
                for message in readable(consumer.consume(1000, 0.2)):
                    if message.error() is not None:
                        continue
                    partition, key = message.partition(), message.key()
                    if partition is None or key is None:
                        continue
                    row = _row(partition, key, message.value(), oldest)
                    if row is not None:
                        rows.append(row)
                        restored += row[3] is not None
                self._state.put_many(rows)
                for tp in consumer.position([TopicPartition(self.topic, p) for p in list(pending)]):
                    if tp.offset >= 0:
                        self._read_to[tp.partition] = tp.offset
                    if tp.offset >= ends[tp.partition]:
                        pending.discard(tp.partition)
            if pending:
                log.warning(
                    "changelog restore incomplete", topic=self.topic, partitions=sorted(pending)
                )
        finally:
            consumer.close()
        return restored

    def get(self, partition: int, key: str, now_ms: int) -> str | None:
        """The live value stored for ``key`` in ``partition``, or None (absent or expired)."""
        entry = self._state.get(partition, key.encode(), now_ms)
        return None if entry is None else entry[1]

    def put(self, partition: int, key: str, value: str, now_ms: int) -> OutRecord:
        """Remember ``key`` now; return the changelog record to produce in the same transaction."""
        self._state.put(partition, key.encode(), now_ms, value)
        return OutRecord(
            topic=self.topic,
            key=key.encode(),
            value=f"{now_ms}|{value}".encode(),
            partition=partition,
        )

    def forget(self, partition: int, key: str) -> None:
        """Drop ``key`` from the local state only: it was put in a transaction that was
        aborted and whose record will not be processed again."""
        self._state.delete(partition, key.encode())

    def close(self) -> None:
        """Release the local file."""
        self._state.close()


def _row(partition: int, key: bytes, value: bytes | None, oldest_ms: int) -> Row | None:
    """A changelog record (``<stamp ms>|<value>``) as a row of the local state; None when
    it expired before ``oldest_ms``."""
    if value is None:
        return (partition, key, 0, None)
    stamp, _, stored = value.decode().partition("|")
    return (partition, key, int(stamp), stored) if int(stamp) >= oldest_ms else None
