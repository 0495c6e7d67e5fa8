"""The per-receiver retry backlog that keeps delivery in order while a receiver is failing.

Once a message to a receiver fails, that receiver is *blocked*: its later
messages are not attempted ahead of it but queue behind it in the retry tiers.
Only the oldest pending message of a receiver (the head) is ever attempted; a
message that comes due while an older one is still pending joins that older
one (its tier and due time). So the receiver gets its messages in
``hub.outbound`` order, and a burst follows as soon as the head gets through.

The backlog of input partition *p* is kept in memory and in partition *p* of a
compacted changelog (key = receiver HER-id, tombstone when empty), written in
the same transaction as the retry records and offsets; it is restored when a
partition is assigned and re-read after an aborted transaction.
"""

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from broker_adapters.kafka import OutRecord

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Pending:
    """One message waiting in a retry tier."""

    seq: int
    """Its ``hub.outbound`` offset."""
    tier: int
    due_ms: int


class Backlog:
    """Receiver -> pending messages (by ``seq``), per input partition."""

    def __init__(self, client_config: dict[str, Any], topic: str) -> None:
        self._config = {
            **client_config,
            "group.id": f"{topic}.restore",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
        self.topic = topic
        self._partitions: dict[int, dict[int, list[Pending]]] = {}
        self._dirty: set[tuple[int, int]] = set()

    # -- reading ------------------------------------------------------------------------------

    def pending(self, partition: int, receiver: int) -> list[Pending]:
        """The receiver's pending messages, oldest first (a copy)."""
        return list(self._partitions.get(partition, {}).get(receiver, ()))

    def blocked(self, partition: int, receiver: int) -> bool:
        """True when the receiver has a message waiting in a retry tier."""
        return bool(self._partitions.get(partition, {}).get(receiver))

    def find(self, partition: int, receiver: int, seq: int) -> Pending | None:
        """The pending entry of message ``seq``."""
        for entry in self._partitions.get(partition, {}).get(receiver, ()):
            if entry.seq == seq:
                return entry
        return None

    def before(self, partition: int, receiver: int, seq: int) -> Pending | None:
        """The newest pending message older than ``seq`` (what ``seq`` must wait behind)."""
        older = [e for e in self._partitions.get(partition, {}).get(receiver, ()) if e.seq < seq]
        return older[-1] if older else None

    def by_tier(self) -> dict[int, int]:
        """Pending messages per retry tier, over all held partitions."""
        counts: dict[int, int] = {}
        for state in self._partitions.values():
            for queue in state.values():
                for entry in queue:
                    counts[entry.tier] = counts.get(entry.tier, 0) + 1
        return counts

    def size(self) -> int:
        """Pending messages over all held partitions."""
        return sum(len(q) for state in self._partitions.values() for q in state.values())

    # -- changing (each change is written to the changelog by :meth:`flush`) ------------------

    def put(self, partition: int, receiver: int, entry: Pending) -> None:
        """Add or update the entry of ``entry.seq``."""
        queue = self._partitions.setdefault(partition, {}).setdefault(receiver, [])
        queue[:] = sorted([e for e in queue if e.seq != entry.seq] + [entry], key=_seq)
        self._dirty.add((partition, receiver))

    def remove(self, partition: int, receiver: int, seq: int) -> None:
        """Forget message ``seq`` (delivered or given up)."""
        state = self._partitions.get(partition, {})
        queue = state.get(receiver)
        if not queue:
            return
        queue[:] = [e for e in queue if e.seq != seq]
        if not queue:
            del state[receiver]
        self._dirty.add((partition, receiver))

    def flush(self) -> list[OutRecord]:
        """The changelog records of the changes since the last flush."""
        records = []
        for partition, receiver in sorted(self._dirty):
            queue = self._partitions.get(partition, {}).get(receiver)
            value = (
                json.dumps([[e.seq, e.tier, e.due_ms] for e in queue]).encode() if queue else None
            )
            records.append(
                OutRecord(
                    topic=self.topic, key=str(receiver).encode(), value=value, partition=partition
                )
            )
        self._dirty.clear()
        return records

    # -- partitions ---------------------------------------------------------------------------

    def held(self) -> list[int]:
        """The input partitions whose backlog is in memory."""
        return sorted(self._partitions)

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget revoked partitions (and any unflushed change to them)."""
        gone = set(partitions)
        for partition in gone:
            self._partitions.pop(partition, None)
        self._dirty = {(p, r) for p, r in self._dirty if p not in gone}

    def restore(self, partitions: Iterable[int], timeout_s: float = 60.0) -> int:
        """Read the committed backlog of ``partitions``; return the pending messages found."""
        wanted = sorted(set(partitions))
        self.drop(wanted)
        for partition in wanted:
            self._partitions[partition] = {}
        if not wanted:
            return 0
        consumer = Consumer(self._config)
        try:
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), 10)[1]
                for p in wanted
            }
            pending = {p for p, end in ends.items() if end > 0}
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in pending])
            deadline = time.monotonic() + timeout_s
            while pending and time.monotonic() < deadline:
                for message in consumer.consume(1000, 0.2):
                    number, key = message.partition(), message.key()
                    if message.error() is not None or number is None or key is None:
                        continue
                    self._apply(number, int(key), message.value())
                positions = consumer.position(
                    [TopicPartition(self.topic, p) for p in sorted(pending)]
                )
                for tp in positions:
                    if tp.partition is not None and tp.offset >= ends[tp.partition]:
                        pending.discard(tp.partition)
            if pending:
                log.warning("backlog restore incomplete", topic=self.topic, partitions=pending)
        finally:
            consumer.close()
        return sum(len(q) for p in wanted for q in self._partitions[p].values())

    def _apply(self, partition: int, receiver: int, value: bytes | None) -> None:
        state = self._partitions.setdefault(partition, {})
        if not value:
            state.pop(receiver, None)
            return
        state[receiver] = sorted(
            (Pending(int(seq), int(tier), int(due)) for seq, tier, due in json.loads(value)),
            key=_seq,
        )


def _seq(entry: Pending) -> int:
    return entry.seq
