"""The per-receiver retry backlog that keeps delivery in order while a receiver is failing.

Once a message to a receiver fails, that receiver is *blocked*: its later
messages are not attempted ahead of it but queue behind it in the retry tiers.
Only the oldest pending message of a receiver (the head) is ever attempted; a
message that comes due while an older one is still pending joins that older
one (its tier and due time). So the receiver gets its messages in
``hub.outbound`` order, and a burst follows as soon as the head gets through.

The backlog of input partition *p* is kept in memory (per receiver a sorted
list of offsets found by bisection, and the entries by offset) and in
partition *p* of a compacted changelog with one record per pending message
(key ``<receiver HER-id>:<seq>``, tombstone when it is done), written in the
same transaction as the retry records and offsets; a batch writes only the
entries it changed. It is restored when a partition is assigned and re-read
after an aborted transaction. Records of the older layout (key = HER-id, value =
the receiver's whole list) are read and replaced by per-message records.
"""

import bisect
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from kafka_io import OutRecord, readable

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Pending:
    """One message waiting in a retry tier."""

    seq: int
    """Its ``hub.outbound`` offset."""
    tier: int
    due_ms: int


@dataclass(slots=True)
class _Queue:
    """One receiver's pending messages: offsets in order, entries by offset."""

    order: list[int] = field(default_factory=list)
    entries: dict[int, Pending] = field(default_factory=dict)

    def put(self, entry: Pending) -> None:
        if entry.seq not in self.entries:
            if not self.order or self.order[-1] < entry.seq:
                self.order.append(entry.seq)  # the usual case: a newer message
            else:
                bisect.insort(self.order, entry.seq)
        self.entries[entry.seq] = entry

    def remove(self, seq: int) -> bool:
        if self.entries.pop(seq, None) is None:
            return False
        del self.order[bisect.bisect_left(self.order, seq)]
        return True


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
        self._partitions: dict[int, dict[int, _Queue]] = {}
        self._dirty: set[tuple[int, int, int]] = set()
        self._legacy: set[tuple[int, int]] = set()
        """(partition, receiver) whose changelog still holds an old whole-list record."""

    # -- reading ------------------------------------------------------------------------------

    def _queue(self, partition: int, receiver: int) -> _Queue | None:
        return self._partitions.get(partition, {}).get(receiver)

    def pending(self, partition: int, receiver: int) -> list[Pending]:
        """The receiver's pending messages, oldest first (a copy)."""
        queue = self._queue(partition, receiver)
        return [] if queue is None else [queue.entries[seq] for seq in queue.order]

    def blocked(self, partition: int, receiver: int) -> bool:
        """True when the receiver has a message waiting in a retry tier."""
        queue = self._queue(partition, receiver)
        return queue is not None and bool(queue.order)

    def count(self, partition: int, receiver: int) -> int:
        """How many messages the receiver has waiting."""
        queue = self._queue(partition, receiver)
        return 0 if queue is None else len(queue.order)

    def find(self, partition: int, receiver: int, seq: int) -> Pending | None:
        """The pending entry of message ``seq``."""
        queue = self._queue(partition, receiver)
        return None if queue is None else queue.entries.get(seq)

    def before(self, partition: int, receiver: int, seq: int) -> Pending | None:
        """The newest pending message older than ``seq`` (what ``seq`` must wait behind)."""
        queue = self._queue(partition, receiver)
        if queue is None:
            return None
        index = bisect.bisect_left(queue.order, seq)
        return queue.entries[queue.order[index - 1]] if index > 0 else None

    def by_tier(self) -> dict[int, int]:
        """Pending messages per retry tier, over all held partitions."""
        counts: dict[int, int] = {}
        for state in self._partitions.values():
            for queue in state.values():
                for entry in queue.entries.values():
                    counts[entry.tier] = counts.get(entry.tier, 0) + 1
        return counts

    def size(self) -> int:
        """Pending messages over all held partitions."""
        return sum(len(q.order) for state in self._partitions.values() for q in state.values())

    # -- changing (each change is written to the changelog by :meth:`flush`) ------------------

    def put(self, partition: int, receiver: int, entry: Pending) -> None:
        """Add or update the entry of ``entry.seq``."""
        self._partitions.setdefault(partition, {}).setdefault(receiver, _Queue()).put(entry)
        self._dirty.add((partition, receiver, entry.seq))

    def remove(self, partition: int, receiver: int, seq: int) -> None:
        """Forget message ``seq`` (delivered or given up)."""
        state = self._partitions.get(partition, {})
        queue = state.get(receiver)
        if queue is None or not queue.remove(seq):
            return
        if not queue.order:
            del state[receiver]
        self._dirty.add((partition, receiver, seq))

    def flush(self) -> list[OutRecord]:
        """The changelog records of the changes since the last flush, one per message."""
        for partition, receiver in self._legacy:
            for seq in (self._queue(partition, receiver) or _Queue()).order:
                self._dirty.add((partition, receiver, seq))
        records = [
            OutRecord(topic=self.topic, key=str(receiver).encode(), value=None, partition=p)
            for p, receiver in sorted(self._legacy)
        ]
        for partition, receiver, seq in sorted(self._dirty):
            entry = self.find(partition, receiver, seq)
            value = None if entry is None else json.dumps([entry.tier, entry.due_ms]).encode()
            records.append(
                OutRecord(
                    topic=self.topic,
                    key=f"{receiver}:{seq}".encode(),
                    value=value,
                    partition=partition,
                )
            )
        self._dirty.clear()
        self._legacy.clear()
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
        self._dirty = {(p, r, s) for p, r, s in self._dirty if p not in gone}
        self._legacy = {(p, r) for p, r in self._legacy if p not in gone}

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
                for message in readable(consumer.consume(1000, 0.2)):
                    number, key = message.partition(), message.key()
                    if message.error() is not None or number is None or key is None:
                        continue
                    self._apply(number, key.decode(), message.value())
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
        return sum(len(q.order) for p in wanted for q in self._partitions[p].values())

    def _apply(self, partition: int, key: str, value: bytes | None) -> None:
        receiver_text, _, seq_text = key.partition(":")
        receiver = int(receiver_text)
        state = self._partitions.setdefault(partition, {})
        if not seq_text:  # the older layout: the receiver's whole list in one record
            state.pop(receiver, None)
            self._legacy.add((partition, receiver))
            for seq, tier, due in json.loads(value) if value else ():
                state.setdefault(receiver, _Queue()).put(Pending(int(seq), int(tier), int(due)))
            return
        seq = int(seq_text)
        if value:
            tier, due = json.loads(value)
            state.setdefault(receiver, _Queue()).put(Pending(seq, int(tier), int(due)))
        else:
            queue = state.get(receiver)
            if queue is not None and queue.remove(seq) and not queue.order:
                del state[receiver]
