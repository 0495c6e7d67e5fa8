"""How simulated systems hand their documents to the hub: Kafka, HTTP, AMQP or a file catalogue.

* ``kafka`` writes to ``hub.inbound`` exactly as an ingress adapter does (raw
  bytes, key = principal, the ``InboundMessage`` header with the simulator's
  ingress time), so the simulator can replay a year with its own timestamps.
* ``http`` posts to ``/v1/messages`` with each principal's bearer token.
* ``amqp`` publishes to each principal's inbound queue (``fromHerId`` header).
* ``file`` writes into each principal's inbox directory (``*.tmp``, then renamed
  to ``*.xml`` when complete, as the file catalogue expects).

The last three stamp their own ingress time (now) and screen documents first;
:class:`~meldingshub.simulator.truth.Truth` accounts for that.
"""

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
import pika
from confluent_kafka import KafkaError, Message

from access.principals import Principals
from hubcore.errors import MeldingshubError
from kafka_io import DurableProducer, OutRecord, producer_config
from kafka_io.settings import KafkaSettings
from meldingshub.simulator.traffic import Outgoing
from schemas.records import INBOUND_HEADER, InboundMessage, encode

Via = Literal["kafka", "http", "amqp", "file"]
VIAS: tuple[Via, ...] = ("kafka", "http", "amqp", "file")


class SendError(MeldingshubError):
    """The hub did not take a document the simulator sent."""


class Sender(Protocol):
    """Hands documents to the hub."""

    def send(self, outgoing: Outgoing) -> None:
        """Send one document (may return before the hub confirmed it)."""
        ...

    def close(self) -> None:
        """Wait for everything sent to be confirmed; raise :class:`SendError` if some was not."""
        ...


class KafkaSender:
    """Writes to ``hub.inbound`` as an ingress adapter does, with the simulated ingress time."""

    def __init__(self, kafka: KafkaSettings, bootstrap_servers: str) -> None:
        self._producer = DurableProducer(producer_config(kafka, bootstrap_servers))
        self._topic = kafka.topics.inbound.name
        self._lock = threading.Lock()
        self.failed = 0
        self.first_error: str | None = None

    def _report(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            with self._lock:
                self.failed += 1
                self.first_error = self.first_error or str(error)

    def send(self, outgoing: Outgoing) -> None:
        """Queue the record (the producer batches; :meth:`close` waits for all of them)."""
        meta = InboundMessage(
            hub_message_id=outgoing.hub_message_id,
            adapter="kafka",
            principal=outgoing.principal,
            received_at=outgoing.received_at,
            size_bytes=len(outgoing.raw),
        )
        self._producer.send(
            OutRecord(
                topic=self._topic,
                key=outgoing.principal.encode("utf-8"),
                value=outgoing.raw,
                headers=((INBOUND_HEADER, encode(meta)),),
            ),
            self._report,
        )

    def close(self) -> None:
        """Flush and stop; raise when the broker refused or never confirmed a record."""
        remaining = self._producer.flush(60)
        self._producer.close()
        if remaining or self.failed:
            raise SendError(
                f"{self.failed + remaining} document(s) not written to {self._topic}"
                + (f": {self.first_error}" if self.first_error else "")
            )


class HttpSender:
    """Posts to the hub's ``/v1/messages`` with the sending principal's bearer token."""

    def __init__(self, base_url: str, tokens: Mapping[str, str], timeout_s: float = 30.0) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self._tokens = dict(tokens)
        self.refused: dict[int, int] = {}

    def send(self, outgoing: Outgoing) -> None:
        """Post and wait for the answer; 4xx answers are counted (faults are refused)."""
        token = self._tokens.get(outgoing.principal)
        if token is None:
            raise SendError(f"no bearer token for principal {outgoing.principal!r}")
        response = self._client.post(
            "/v1/messages",
            content=outgoing.raw,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
        )
        if response.status_code == 202:
            return
        if 400 <= response.status_code < 500:
            self.refused[response.status_code] = self.refused.get(response.status_code, 0) + 1
            return
        raise SendError(f"the hub answered {response.status_code} to POST /v1/messages")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class AmqpSender:
    """Publishes to each principal's inbound queue, as Helsenorge.Messaging senders do."""

    def __init__(self, url: str, principals: Principals) -> None:
        self._queues = {p.name: p.amqp_inbound_queue for p in principals if p.amqp_inbound_queue}
        self._connection = pika.BlockingConnection(pika.URLParameters(url))
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()

    def send(self, outgoing: Outgoing) -> None:
        """Publish with publisher confirms (returns once RabbitMQ took it)."""
        queue = self._queues.get(outgoing.principal)
        if queue is None:
            raise SendError(f"principal {outgoing.principal!r} has no amqp_inbound_queue")
        headers: dict[str, Any] = {}
        if outgoing.sender_her_id is not None:
            headers["fromHerId"] = str(outgoing.sender_her_id)
        self._channel.basic_publish(
            "",
            queue,
            outgoing.raw,
            pika.BasicProperties(delivery_mode=2, content_type="application/xml", headers=headers),
        )

    def close(self) -> None:
        """Close the connection."""
        if self._connection.is_open:
            self._connection.close()


class FileSender:
    """Writes into each principal's inbox: a hidden ``.tmp`` file, renamed to ``.xml``."""

    def __init__(self, root: Path, principals: Principals | None = None) -> None:
        self._root = root
        self._inboxes = {p.name: p.file_inbox for p in principals or () if p.file_inbox is not None}

    def send(self, outgoing: Outgoing) -> None:
        """Write the file completely, then make it visible to the catalogue."""
        inbox = self._inboxes.get(outgoing.principal) or self._root / outgoing.principal
        inbox.mkdir(parents=True, exist_ok=True)
        name = f"{outgoing.received_at:%Y%m%dT%H%M%S}-{outgoing.hub_message_id}"
        temporary = inbox / f".{name}.tmp"
        temporary.write_bytes(outgoing.raw)
        temporary.replace(inbox / f"{name}.xml")

    def close(self) -> None:
        """Nothing to flush: every file is complete when ``send`` returns."""


def read_tokens(path: Path) -> dict[str, str]:
    """Bearer tokens per principal from a JSON object ``{"principal": "token"}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SendError(f"cannot read tokens file {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise SendError(f'{path} must be a JSON object {{"principal": "token", ...}}')
    return data
