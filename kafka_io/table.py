"""A local view of a compacted topic whose records carry a time, followed in a background thread.

Every partition is read from the beginning with ``assign()`` (no consumer
group, so no join delay) and ``read_committed``; ``loaded`` is set once the
view has caught up with the end offsets seen at start (after reading what of the topic is
kept off the broker, :mod:`kafka_io.cold`). Tombstones delete keys,
keys older than the time-to-live are forgotten, and the view lives in a local
file (:class:`LocalState`), so memory does not grow with the topic.

The view outlives its follower: started again (the router restarted, the embedded broker
checkpointed), it reads on from where it was, not the whole window again.

The view trails the topic by a fetch or so. A reader that must see every record committed
before it asked (the router correlating an AppRec with the original it routed a moment ago)
uses :meth:`TimedTable.get_committed`, which on a miss first lets the view catch up.
"""

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_io.cold import ColdRecord, ColdRecords, in_batches
from kafka_io.errors import KafkaLayerError
from kafka_io.local_state import LocalState, Row
from kafka_io.placed_records import readable

log = structlog.get_logger(__name__)

_PARTITION = 0
"""The view is one key space, whatever partition a record came from."""

_STOP_WAIT_S = 60.0
"""How long stopping waits for the follower (it looks at its stop between batches)."""

CATCH_UP_TIMEOUT_S = 5.0
"""How long a miss in :meth:`TimedTable.get_committed` waits for the view to catch up."""


class TableError(KafkaLayerError):
    """The view cannot follow its topic as asked."""


class TimedTable:
    """``key -> (time in ms, text)`` of a compacted topic, kept current while running."""

    def __init__(
        self,
        client_config: dict[str, Any],
        topic: str,
        entry_of: Callable[[bytes], tuple[int, str]],
        ttl_ms: int,
        directory: Path,
        poll_timeout_s: float = 0.1,
        cold: ColdRecords | None = None,
    ) -> None:
        self._config = {
            **client_config,
            "group.id": f"{topic}.table",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            # A position that compaction or retention has passed reads on from the start.
            "auto.offset.reset": "earliest",
            # The broker may hold a fetch for this long when there is nothing new; the
            # default 500 ms would be how far the view trails the topic (as in consumer_config).
            "fetch.wait.max.ms": 20,
        }
        self.topic = topic
        self._entry_of = entry_of
        self._poll_timeout_s = poll_timeout_s
        self._cold = cold
        self._state = LocalState(directory, topic, ttl_ms)
        self.loaded = threading.Event()
        self._ends_client: Consumer | None = None
        """Asks the broker for end offsets on a look-up's behalf; made on first need."""
        self._asking = threading.Lock()
        self._positions: dict[int, int] = {}
        """Next offset per partition that the view has applied (the follower's position)."""
        self._advanced = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread()  # never started: replaced by each start()

    def get(self, key: bytes, now_ms: int) -> tuple[int, str] | None:
        """``(time, text)`` stored for ``key``, or None when absent or past the time-to-live."""
        return self._state.get(_PARTITION, key, now_ms)

    def get_committed(
        self, key: bytes, now_ms: int, timeout_s: float = CATCH_UP_TIMEOUT_S
    ) -> tuple[int, str] | None:
        """Like :meth:`get`, but also sees a record committed just before the call.

        A miss asks the broker for the end of every partition and waits (``timeout_s`` at
        most) until the view has read that far, then looks again: a key is reported absent
        only if it was not in the topic when asked (or the view could not catch up in
        time, which is logged). A hit costs what :meth:`get` costs.
        """
        found = self.get(key, now_ms)
        if found is not None:
            return found
        self._catch_up(timeout_s)
        return self.get(key, now_ms)  # again even if nothing was waited for: it may have moved

    def _catch_up(self, timeout_s: float) -> None:
        """Wait until the view has read the topic's end as it is now (at once when it has;
        not at all when that cannot be told: not following, or the broker does not answer)."""
        if not self._thread.is_alive():
            return
        deadline = time.monotonic() + timeout_s
        ends = self._end_offsets(deadline)
        if ends is None:
            return

        def caught_up() -> bool:
            return all(self._positions.get(p, 0) >= end for p, end in ends.items())

        with self._advanced:
            if not self._advanced.wait_for(caught_up, deadline - time.monotonic()):
                log.warning("table did not catch up", topic=self.topic, timeout_s=timeout_s)

    def _end_offsets(self, deadline: float) -> dict[int, int] | None:
        """The end (high watermark) of every partition now, asked with a client of the
        caller's own: asked through the follower's busy consumer, the answer took minutes.

        Past the high watermark every committed record has been read; another writer's open
        transaction holds the view there until it ends, which the timeout bounds."""
        with self._advanced:
            partitions = list(self._positions)
        if not partitions:
            return None  # the follower has not looked at the topic yet
        with self._asking:
            if self._stop.is_set():
                return None
            if self._ends_client is None:
                self._ends_client = Consumer(self._config)
            try:
                return {
                    p: self._ends_client.get_watermark_offsets(
                        TopicPartition(self.topic, p),
                        max(deadline - time.monotonic(), 0.1),
                        cached=False,
                    )[1]
                    for p in partitions
                }
            except KafkaException as exc:
                log.warning("table end offsets unknown", topic=self.topic, error=str(exc))
                return None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start following (again after :meth:`stop`: on from where the view had read);
        return once the view caught up (or after ``timeout_s``). Each follower has a stop
        of its own, and never runs beside another (they would both move the positions)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(_STOP_WAIT_S)
        if self._thread.is_alive():
            raise TableError(f"the follower of {self.topic} does not stop; not started again")
        self._stop = threading.Event()
        self.loaded.clear()
        self._thread = threading.Thread(
            target=self._follow, args=(self._stop,), name=f"table-{self.topic}", daemon=True
        )
        self._thread.start()
        if not self.loaded.wait(timeout_s):
            log.warning("table not caught up at start", topic=self.topic, timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop following; the view stays, for a later :meth:`start`."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(_STOP_WAIT_S)
        if self._thread.is_alive():
            log.error("table follower did not stop", topic=self.topic, waited_s=_STOP_WAIT_S)
        with self._asking:
            if self._ends_client is not None:
                self._ends_client.close()
                self._ends_client = None

    def close(self) -> None:
        """Stop following and release the local file."""
        self.stop()
        self._state.close()

    def _follow(self, stop: threading.Event) -> None:
        consumer = Consumer(self._config)
        try:
            metadata = AdminClient(self._config).list_topics(self.topic, timeout=10)
            partitions = list(metadata.topics[self.topic].partitions)
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), 10)[1]
                for p in partitions
            }
            with self._advanced:
                starts = {p: self._positions.get(p, 0) for p in partitions}
                # A topic that ends before where the view read it was made anew: from the start.
                starts = {p: 0 if start > ends[p] else start for p, start in starts.items()}
                # Look-ups wait for the follower from now on, the cold records included.
                self._positions = dict(starts)
            if self._cold is not None:
                for batch in in_batches(self._cold.read(self.topic, starts)):
                    if stop.is_set():
                        return
                    self._apply_values(batch)
            consumer.assign(
                [TopicPartition(self.topic, p, starts[p] or OFFSET_BEGINNING) for p in partitions]
            )
            behind = {p for p, end in ends.items() if end > starts[p]}
            if not behind:
                self.loaded.set()
            everything = [TopicPartition(self.topic, p) for p in partitions]
            while not stop.is_set():
                self._apply(readable(consumer.consume(1000, self._poll_timeout_s)))
                # Only now is what the consumer read in the view: then it counts as read.
                positions = {tp.partition: tp.offset for tp in consumer.position(everything)}
                with self._advanced:
                    for partition, offset in positions.items():
                        if offset >= 0:
                            self._positions[partition] = offset
                    self._advanced.notify_all()
                behind = {p for p in behind if positions[p] < ends[p]}
                if not behind:
                    self.loaded.set()
        except Exception:
            log.exception("table follower failed", topic=self.topic)
            time.sleep(1)
            raise
        finally:
            consumer.close()

    def _apply(self, messages: list[Message]) -> None:
        self._apply_values(
            (message.partition() or 0, key, message.value())
            for message in messages
            if message.error() is None and (key := message.key()) is not None
        )

    def _apply_values(self, records: Iterable[ColdRecord]) -> None:
        rows: list[Row] = []
        for _partition, key, value in records:
            if value is None:
                rows.append((_PARTITION, key, 0, None))
            else:
                stamp, text = self._entry_of(value)
                rows.append((_PARTITION, key, stamp, text))
        self._state.put_many(rows)
