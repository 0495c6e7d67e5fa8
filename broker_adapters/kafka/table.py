"""An in-memory view of a compacted topic, followed in a background thread.

Every partition is read from the beginning with ``assign()`` (no consumer
group, so no join delay) and ``read_committed``; ``loaded`` is set once the
view has caught up with the end offsets seen at start. Tombstones delete keys.
"""

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

log = structlog.get_logger(__name__)

V = TypeVar("V")


class CompactedTable(Generic[V]):
    """``key -> value`` of a compacted topic, kept current while running."""

    def __init__(
        self,
        client_config: dict[str, Any],
        topic: str,
        decode: Callable[[bytes], V],
        poll_timeout_s: float = 0.1,
    ) -> None:
        self._config = {
            **client_config,
            "group.id": f"{topic}.table",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
        self.topic = topic
        self._decode = decode
        self._poll_timeout_s = poll_timeout_s
        self._values: dict[bytes, V] = {}
        self.loaded = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"table-{topic}", daemon=True)

    def get(self, key: bytes) -> V | None:
        """The current value of ``key`` (dict reads are atomic under the GIL)."""
        return self._values.get(key)

    def __len__(self) -> int:
        return len(self._values)

    def start(self, timeout_s: float = 60.0) -> None:
        """Start following; return once the view caught up (or after ``timeout_s``)."""
        self._thread.start()
        if not self.loaded.wait(timeout_s):
            log.warning("table not caught up at start", topic=self.topic, timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop following."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

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
                for message in consumer.consume(1000, self._poll_timeout_s):
                    key = message.key()
                    if message.error() is not None or key is None:
                        continue
                    value = message.value()
                    if value is None:
                        self._values.pop(key, None)
                    else:
                        self._values[key] = self._decode(value)
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
