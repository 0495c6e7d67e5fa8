"""A producer for records that must not be lost: acks=all, idempotence, explicit delivery reports.

``send_and_wait`` is what ingress adapters use before they acknowledge a sender:
it returns only when the broker has durably written the record, and raises
:class:`DeliveryFailedError` otherwise. A background thread serves delivery
callbacks so many request threads can wait at once; it survives whatever a
callback raises (a dead report thread would leave every waiting sender hanging).
"""

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from kafka_io.classify import permanent_kind
from kafka_io.errors import DeliveryFailedError, RecordRefusedError
from kafka_io.records import OutRecord

log = structlog.get_logger(__name__)

DeliveryCallback = Callable[[KafkaError | None, Message], None]

__all__ = ["DeliveryCallback", "DeliveryFailedError", "DurableProducer"]


class _Outcome:
    __slots__ = ("done", "error", "message")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: KafkaError | None = None
        self.message: Message | None = None

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        self.error, self.message = error, message
        self.done.set()


class DurableProducer:
    """Thread-safe wrapper around ``confluent_kafka.Producer`` with a delivery-report thread."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._producer = Producer(config)
        self._closing = threading.Event()
        self._poller = threading.Thread(
            target=self._serve_callbacks, name="producer-poll", daemon=True
        )
        self._poller.start()

    def _serve_callbacks(self) -> None:
        while not self._closing.is_set():
            try:
                self._producer.poll(0.1)
            except KafkaException as exc:
                # Fatal producer errors (e.g. an unknown producer id after a broker restart)
                # surface here; callers see them as failed deliveries, the thread goes on.
                log.error("producer error", error=str(exc))
            except Exception as exc:  # a callback's bug must not end the reports of all others
                log.error("producer callback raised", error=type(exc).__name__)

    def send(
        self,
        record: OutRecord,
        on_delivery: DeliveryCallback | None = None,
        timeout_s: float | None = None,
    ) -> None:
        """Queue ``record``; ``on_delivery`` is told the outcome. Waits while the queue is full.

        Raises :class:`RecordRefusedError` when the client refuses the record itself (too
        large), :class:`DeliveryFailedError` when the queue stays full for ``timeout_s``.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        callback = _guarded(on_delivery or _log_failure)
        while True:
            try:
                self._producer.produce(
                    record.topic,
                    value=record.value,
                    key=record.key,
                    headers=list(record.headers),
                    on_delivery=callback,
                )
                return
            except KafkaException as exc:
                kind = permanent_kind(exc.args[0] if exc.args else None)
                if kind is None:
                    raise
                raise RecordRefusedError(
                    kind, f"record to {record.topic} refused: {kind}"
                ) from None
            except BufferError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise DeliveryFailedError(
                        f"the producer queue stayed full for {timeout_s:g} s"
                    ) from None
                time.sleep(0.005)  # the poll thread drains the queue

    def send_and_wait(self, record: OutRecord, timeout_s: float = 10.0) -> tuple[int, int]:
        """Send and return ``(partition, offset)`` once the broker has durably written it."""
        outcome = _Outcome()
        self.send(record, outcome, timeout_s)
        if not outcome.done.wait(timeout_s):
            raise DeliveryFailedError(
                f"no delivery report for a record to {record.topic} within {timeout_s:g} s"
            )
        kind = permanent_kind(outcome.error)
        if kind is not None:
            raise RecordRefusedError(kind, f"broker refused a record to {record.topic}: {kind}")
        if outcome.error is not None or outcome.message is None:
            raise DeliveryFailedError(
                f"broker did not accept a record to {record.topic}: {outcome.error}"
            )
        partition, offset = outcome.message.partition(), outcome.message.offset()
        if partition is None or offset is None:
            raise DeliveryFailedError(f"delivery report for {record.topic} without a position")
        return partition, offset

    def flush(self, timeout_s: float = 10.0) -> int:
        """Wait for outstanding records; return how many are still undelivered."""
        return int(self._producer.flush(timeout_s))

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush, then stop the delivery-report thread. Undelivered records are logged."""
        remaining = self.flush(timeout_s)
        self._closing.set()
        self._poller.join(timeout_s)
        self._producer.close()  # its threads and connections go now, not when collected
        if remaining:
            log.error("producer closed with undelivered records", undelivered=remaining)


def _guarded(callback: DeliveryCallback) -> DeliveryCallback:
    """``callback``, with whatever it raises logged (by type only) instead of propagated."""

    def call(error: KafkaError | None, message: Message) -> None:
        try:
            callback(error, message)
        except Exception as exc:
            log.error("delivery callback raised", error=type(exc).__name__)

    return call


def _log_failure(error: KafkaError | None, message: Message) -> None:
    if error is not None:
        log.error("record not delivered", topic=message.topic(), error=str(error))
