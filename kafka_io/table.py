"""A local view of a compacted topic whose records carry a time, followed in a background thread.

Every partition is read from the beginning with ``assign()`` (no consumer
group, so no join delay) and ``read_committed``; ``loaded`` is set once the
view has caught up with the end offsets seen at start. Tombstones delete keys,
keys older than the time-to-live are forgotten, and the view lives in a local
file (:class:`LocalState`), so memory does not grow with the topic.
"""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_io.local_state import LocalState, Row
from kafka_io.placed_records import readable

log = structlog.get_logger(__name__)

_PARTITION = 0
"""The view is one key space, whatever partition a record came from."""


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
    ) -> None:
        self._config = {
            **client_config,
            "group.id": f"{topic}.table",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
        self.topic = topic
        self._entry_of = entry_of
        self._poll_timeout_s = poll_timeout_s
        self._state = LocalState(directory, topic, ttl_ms)
        self.loaded = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"table-{topic}", daemon=True)

    def get(self, key: bytes, now_ms: int) -> tuple[int, str] | None:
        """``(time, text)`` stored for ``key``, or None when absent or past the time-to-live."""
        return self._state.get(_PARTITION, key, now_ms)

    def start(self, timeout_s: float = 60.0) -> None:
        """Start following; return once the view caught up (or after ``timeout_s``)."""
        self._thread.start()
        if not self.loaded.wait(timeout_s):
            log.warning("table not caught up at start", topic=self.topic, timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop following and release the local file."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._state.close()

    def _follow(self) -> None:
        consumer = Consumer(self._config)
        try:
            metadata = AdminClient(self._config).list_topics(self.topic, timeout=10)
            partitions = list(metadata.topics[self.topic].partitions)
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), 10)[1]
                for p in partitions
            }
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            behind = {p for p, end in ends.items() if end > 0}
            if not behind:
                self.loaded.set()
            while not self._stop.is_set():
                self._apply(readable(consumer.consume(1000, self._poll_timeout_s)))
                if behind:
                    for tp in consumer.position(
                        [TopicPartition(self.topic, p) for p in list(behind)]
                    ):
                        if tp.offset >= ends[tp.partition]:
                            behind.discard(tp.partition)
                    if not behind:
                        self.loaded.set()
        except Exception:
            log.exception("table follower failed", topic=self.topic)
            time.sleep(1)
            raise
        finally:
            consumer.close()

    def _apply(self, messages: list[Message]) -> None:
        rows: list[Row] = []
        for message in messages:
            key = message.key()
            if message.error() is not None or key is None:
                continue
            value = message.value()
            if value is None:
                rows.append((_PARTITION, key, 0, None))
            else:
                stamp, text = self._entry_of(value)
                rows.append((_PARTITION, key, stamp, text))
        self._state.put_many(rows)
