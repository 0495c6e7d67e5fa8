"""A whole hub (``meldingshub run``, all components) in this process, on uuid-named resources.

The poison and fuzz tests drive every ingress of a running hub and then look at what
it did: HTTP answers, files in ``done/``/``failed/``, the AMQP error queue, and the
records on ``hub.inbound``, ``hub.rejected`` and ``hub.events``. In-process so a
test can plant a fault (monkeypatch) in one component and watch the others go on.
"""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pika
from prometheus_client import CollectorRegistry

from addressregister.fileformat import write_register_file
from addressregister.index import RegisterIndex
from addressregister.settings import RegisterSettings
from broker_adapters.delivery.settings import DeliverySettings
from broker_adapters.ingress.settings import IngressSettings
from broker_adapters.kafka import ensure_topics
from broker_adapters.kafka.settings import TopicSpec
from meldingshub.app import Hub
from meldingshub.embedded_broker import free_port
from meldingshub.settings import HttpSettings, Settings, StoreSettings
from meldingshub.wiring import component_factory
from metrics.settings import StatisticsSettings
from routing.principals import Principal, Principals, new_token, token_hash
from tests.support.hub import isolated_settings

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
PRINCIPAL = "epj"
KAFKA_PRINCIPAL = "epj-kafka"


@dataclass
class RunningHub:
    """The hub, its thread and where each of its ingress paths is."""

    hub: Hub
    thread: threading.Thread
    stop: threading.Event
    settings: Settings
    registry: CollectorRegistry
    api: str
    ops: str
    token: str
    inbox: Path
    amqp_queue: str
    amqp_error_queue: str
    kafka_topic: str

    @property
    def bootstrap(self) -> str:
        """The broker's bootstrap servers."""
        return self.settings.kafka.bootstrap_servers

    def alive(self) -> bool:
        """The hub's run thread still runs (a process exit would end it)."""
        return self.thread.is_alive() and not self.stop.is_set()

    def restarts(self) -> dict[str, int]:
        """Restarts per component since start."""
        return {name: s.restarts for name, s in self.hub.supervisors.items()}

    def readyz(self) -> httpx.Response:
        """The ops endpoint's readiness answer."""
        return httpx.get(f"{self.ops}/readyz", timeout=10)

    def post(self, raw: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        """``POST /v1/messages`` with the principal's token."""
        return httpx.post(
            f"{self.api}/v1/messages",
            content=raw,
            headers={
                "Content-Type": "application/xml",
                "Authorization": f"Bearer {self.token}",
                **(headers or {}),
            },
            timeout=60,
        )

    def publish(self, bodies: list[tuple[bytes, dict[str, object]]]) -> None:
        """Publish ``(body, headers)`` to the principal's inbound queue (persistent)."""
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for body, headers in bodies:
                channel.basic_publish(
                    "",
                    self.amqp_queue,
                    body,
                    pika.BasicProperties(
                        headers=headers, delivery_mode=pika.DeliveryMode.Persistent
                    ),
                )
        finally:
            connection.close()

    def queue_depths(self) -> tuple[int, int]:
        """Messages in the inbound queue (ready or unacked) and in the error queue."""
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            channel = connection.channel()
            inbound = channel.queue_declare(self.amqp_queue, durable=True, passive=True)
            errors = channel.queue_declare(self.amqp_error_queue, durable=True, passive=True)
            return inbound.method.message_count, errors.method.message_count
        finally:
            connection.close()

    def drain_error_queue(self) -> list[tuple[bytes, dict[str, object]]]:
        """Every message on the error queue (acked), with its headers."""
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        found: list[tuple[bytes, dict[str, object]]] = []
        try:
            channel = connection.channel()
            while True:
                method, properties, body = channel.basic_get(self.amqp_error_queue, auto_ack=True)
                if method is None:
                    return found
                found.append((body, dict(properties.headers or {})))
        finally:
            connection.close()


def hub_settings(bootstrap: str, data_dir: Path, register: RegisterIndex) -> tuple[Settings, str]:
    """Settings of a hub whose every topic, group, queue and directory is new; and its token."""
    run = uuid.uuid4().hex[:10]
    base = isolated_settings(bootstrap)
    snapshot = data_dir / "register.json"
    write_register_file(snapshot, list(register))
    token = new_token()
    senders = frozenset(p.her_id for p in register)
    principal = Principal(
        PRINCIPAL,
        senders,
        token_hashes=frozenset({token_hash(token)}),
        amqp_inbound_queue=f"fuzz-{run}.in",
        amqp_error_queue=f"fuzz-{run}.error",
        file_inbox=data_dir / "inbox" / PRINCIPAL,
        kafka_principal=KAFKA_PRINCIPAL,
    )
    principals = data_dir / "principals.toml"
    principals.write_text(Principals([principal]).to_toml(), encoding="utf-8")
    kafka_topic = f"ingress-{run}"
    ensure_topics({"bootstrap.servers": bootstrap}, [TopicSpec(name=kafka_topic, partitions=1)])
    settings = Settings(
        data_dir=data_dir,
        kafka=base.kafka,
        routing=base.routing.model_copy(
            update={"principals_file": principals, "instance_id": f"hub-{run}"}
        ),
        http=HttpSettings(api_bind=f"127.0.0.1:{free_port()}", ops_bind=f"127.0.0.1:{free_port()}"),
        store=StoreSettings(dsn=f"sqlite:///{data_dir / 'hub.sqlite3'}"),
        address_register=RegisterSettings(snapshot=snapshot),
        statistics=StatisticsSettings(group_id=f"statistics-{run}"),
        ingress=IngressSettings(
            adapters=frozenset({"http", "file", "kafka"}),
            amqp_url=AMQP_URL,  # type: ignore[arg-type]
            kafka_topic=kafka_topic,
            kafka_group_id=f"ingress-{run}",
            file_poll_interval_s=0.1,
        ),
        delivery=DeliverySettings(
            group_id=f"delivery-{run}",
            instance_id=f"delivery-{run}",
            retry_topic_prefix=f"retry-{run}",
            backlog_topic=f"backlog-{run}",
            status_topic=f"status-{run}",
            kafka_topic_prefix=f"deliver-{run}",
        ),
    )
    return settings, token


@contextmanager
def running_hub(bootstrap: str, data_dir: Path, register: RegisterIndex) -> Iterator[RunningHub]:
    """Start the all-in-one hub; yield once it is ready; stop it (and check it stopped)."""
    settings, token = hub_settings(bootstrap, data_dir, register)
    registry = CollectorRegistry()
    hub = Hub(settings, component_factory(settings, [], registry), registry)
    stop = threading.Event()
    thread = threading.Thread(target=hub.run, args=(stop,), name="hub", daemon=True)
    thread.start()
    if not hub.ready.wait(90):
        stop.set()
        thread.join(30)
        raise AssertionError("the hub did not become ready within 90 s")
    principal = Principals.from_file(settings.routing.principals_file or Path()).get(PRINCIPAL)
    assert principal is not None and principal.file_inbox is not None
    assert principal.amqp_inbound_queue and principal.amqp_error_queue
    running = RunningHub(
        hub=hub,
        thread=thread,
        stop=stop,
        settings=settings,
        registry=registry,
        api=f"http://{settings.http.api_bind}",
        ops=f"http://{settings.http.ops_bind}",
        token=token,
        inbox=principal.file_inbox,
        amqp_queue=principal.amqp_inbound_queue,
        amqp_error_queue=principal.amqp_error_queue,
        kafka_topic=settings.ingress.kafka_topic,
    )
    try:
        yield running
    finally:
        stop.set()
        thread.join(60)
        for queue in (running.amqp_queue, running.amqp_error_queue):
            _delete_queue(queue)


def _delete_queue(queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_delete(queue)
    finally:
        connection.close()
