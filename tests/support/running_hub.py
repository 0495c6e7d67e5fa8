"""A whole hub (``meldingshub run``, all components) on uuid-named topics, queues and folders.

The poison and fuzz tests drive every ingress of a running hub and then look at what
it did: HTTP answers, files in ``done/``/``failed/``, the AMQP error queue, the
records on ``hub.inbound``, ``hub.rejected`` and ``hub.events``, and ``/metrics``.
:func:`running_hub` runs it in this process, so a test can plant a fault
(monkeypatch) in one component and watch the others go on; :func:`hub_process`
runs it as a ``meldingshub run`` child, whose exit and memory are its own.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import httpx
import pika
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from access.principals import Principal, Principals, read_principals
from access.settings import AccessSettings
from access.tokens import new_token, token_hash
from addressregister.fileformat import write_register_file
from addressregister.index import RegisterIndex
from addressregister.settings import RegisterSettings
from broker_adapters.delivery.settings import DeliverySettings
from broker_adapters.ingress.settings import IngressSettings
from broker_adapters.settings import AmqpSettings
from hubstats.settings import StatisticsSettings
from kafka_io import ensure_topics
from kafka_io.settings import TopicSpec
from meldingshub.app import Hub
from meldingshub.embedded_broker import free_port
from meldingshub.settings import HttpSettings, Settings, StoreSettings
from meldingshub.wiring import component_factory
from tests.support.hub import isolated_settings

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
PRINCIPAL = "epj"
KAFKA_PRINCIPAL = "epj-kafka"


@dataclass
class RunningHub:
    """A running hub and where each of its ingress paths is."""

    settings: Settings
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
        """The hub still runs."""
        raise NotImplementedError

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples ``name`` with ``labels`` on the hub's ``/metrics``."""
        text = httpx.get(f"{self.ops}/metrics", timeout=10).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def restarts(self) -> float:
        """Component restarts since start (``meldingshub_component_restarts_total``)."""
        return self.metric("meldingshub_component_restarts_total")

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


@dataclass
class InProcessHub(RunningHub):
    """The hub in a thread of this process."""

    hub: Hub | None = None
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def alive(self) -> bool:
        """The hub's run thread still runs (a component ending the process would end it)."""
        return self.thread is not None and self.thread.is_alive() and not self.stop.is_set()


@dataclass
class HubProcess(RunningHub):
    """The hub as a ``meldingshub run`` child process."""

    process: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        """The process has not exited."""
        return self.process is not None and self.process.poll() is None

    def memory(self) -> tuple[int, int]:
        """Resident and peak resident bytes of the process (VmRSS, VmHWM)."""
        assert self.process is not None
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in {"VmRSS", "VmHWM"}:
                fields[key] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]


def hub_settings(
    bootstrap: str,
    data_dir: Path,
    register: RegisterIndex,
    extra: Sequence[Principal] = (),
    amqp_url: str = AMQP_URL,
    in_flight_bytes: int = IngressSettings().in_flight_bytes,
) -> tuple[Settings, str]:
    """Settings of a hub whose every topic, group, queue and directory is new; and its token.

    ``extra`` principals join the test's own one (say a sender and a receiver system)."""
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
    principals.write_text(Principals([principal, *extra]).to_toml(), encoding="utf-8")
    kafka_prefix = f"ingress-{run}."
    kafka_topic = principal.kafka_topic(kafka_prefix)
    ensure_topics({"bootstrap.servers": bootstrap}, [TopicSpec(name=kafka_topic, partitions=1)])
    settings = Settings(
        data_dir=data_dir,
        kafka=base.kafka,
        access=AccessSettings(principals_file=principals),
        routing=base.routing,
        http=HttpSettings(api_bind=f"127.0.0.1:{free_port()}", ops_bind=f"127.0.0.1:{free_port()}"),
        store=StoreSettings(dsn=f"sqlite:///{data_dir / 'hub.sqlite3'}"),
        address_register=RegisterSettings(snapshot=snapshot),
        statistics=StatisticsSettings(group_id=f"statistics-{run}"),
        amqp=AmqpSettings(url=SecretStr(amqp_url)),
        ingress=IngressSettings(
            adapters=frozenset({"http", "amqp", "file", "kafka"}),
            kafka_topic_prefix=kafka_prefix,
            kafka_group_id=f"ingress-{run}",
            file_poll_interval_s=0.1,
            in_flight_bytes=in_flight_bytes,
        ),
        delivery=DeliverySettings(
            group_id=f"delivery-{run}",
            retry_topic_prefix=f"retry-{run}",
            backlog_topic=f"backlog-{run}",
            status_topic=f"status-{run}",
            kafka_topic_prefix=f"deliver-{run}",
        ),
    )
    return settings, token


@contextmanager
def running_hub(
    bootstrap: str,
    data_dir: Path,
    register: RegisterIndex,
    extra: Sequence[Principal] = (),
    in_flight_bytes: int = IngressSettings().in_flight_bytes,
) -> Iterator[InProcessHub]:
    """Start the all-in-one hub; yield once it is ready; stop it (and check it stopped)."""
    settings, token = hub_settings(
        bootstrap, data_dir, register, extra, in_flight_bytes=in_flight_bytes
    )
    registry = CollectorRegistry()
    hub = Hub(settings, component_factory(settings, [], registry), registry)
    stop = threading.Event()
    thread = threading.Thread(target=hub.run, args=(stop,), name="hub", daemon=True)
    thread.start()
    if not hub.ready.wait(90):
        stop.set()
        thread.join(30)
        raise AssertionError("the hub did not become ready within 90 s")
    running = InProcessHub(**_where(settings, token), hub=hub, thread=thread, stop=stop)
    try:
        yield running
    finally:
        stop.set()
        thread.join(60)
        for queue in (running.amqp_queue, running.amqp_error_queue):
            _delete_queue(queue)


MELDINGSHUB = str(Path(sys.executable).with_name("meldingshub"))


@contextmanager
def hub_process(
    bootstrap: str,
    data_dir: Path,
    register: RegisterIndex,
    amqp_url: str = AMQP_URL,
    unready: frozenset[str] = frozenset(),
) -> Iterator[HubProcess]:
    """Start ``meldingshub run`` (all components, no simulated stream); yield once it is ready,
    or once only readiness checks named in ``unready`` fail (a transport the test took away)."""
    settings, token = hub_settings(bootstrap, data_dir, register, amqp_url=amqp_url)
    log = (data_dir / "hub.log").open("wb")
    process = subprocess.Popen(
        [MELDINGSHUB, "run", "--no-simulate"],
        env={**os.environ, **_environment(settings)},
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = HubProcess(**_where(settings, token), process=process)
    try:
        _wait_ready(running, unready)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        for queue in (running.amqp_queue, running.amqp_error_queue):
            _delete_queue(queue)


def _wait_ready(hub: HubProcess, unready: frozenset[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not hub.alive():
            raise AssertionError("meldingshub run exited before it was ready")
        try:
            if set(failing_checks(hub.readyz())) <= unready:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("meldingshub run was not ready within 90 s")


def failing_checks(readyz: httpx.Response) -> list[str]:
    """The readiness checks a ``/readyz`` answer names as failing (none when it is 200)."""
    if readyz.status_code == 200:
        return []
    return readyz.text.strip().removeprefix("not ready: ").split(", ")


def _environment(settings: Settings) -> dict[str, str]:
    """``MELDINGSHUB_*`` variables (one JSON object per section) that give ``settings``."""
    ingress = settings.ingress
    env = {
        "MELDINGSHUB_DATA_DIR": str(settings.data_dir),
        "MELDINGSHUB_LOG__FORMAT": "json",
        "MELDINGSHUB_AMQP__URL": settings.amqp.url.get_secret_value(),
    }
    sections = {
        "KAFKA": settings.kafka.model_dump(mode="json", exclude={"sasl_password"}),
        "ACCESS": settings.access.model_dump(mode="json"),
        "ROUTING": settings.routing.model_dump(mode="json"),
        "HTTP": settings.http.model_dump(mode="json"),
        "STORE": settings.store.model_dump(mode="json"),
        "ADDRESS_REGISTER": settings.address_register.model_dump(mode="json"),
        "STATISTICS": settings.statistics.model_dump(mode="json"),
        "INGRESS": ingress.model_dump(mode="json"),
        "DELIVERY": settings.delivery.model_dump(mode="json"),
    }
    for section, values in sections.items():
        env[f"MELDINGSHUB_{section}"] = json.dumps(values)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return env


class _Where(TypedDict):
    """The fields of ``RunningHub``: where a hub's ingress paths are."""

    settings: Settings
    api: str
    ops: str
    token: str
    inbox: Path
    amqp_queue: str
    amqp_error_queue: str
    kafka_topic: str


def _where(settings: Settings, token: str) -> _Where:
    principal = read_principals(settings.access.principals_file or Path()).get(PRINCIPAL)
    assert principal is not None and principal.file_inbox is not None
    assert principal.amqp_inbound_queue and principal.amqp_error_queue
    return {
        "settings": settings,
        "api": f"http://{settings.http.api_bind}",
        "ops": f"http://{settings.http.ops_bind}",
        "token": token,
        "inbox": principal.file_inbox,
        "amqp_queue": principal.amqp_inbound_queue,
        "amqp_error_queue": principal.amqp_error_queue,
        "kafka_topic": principal.kafka_topic(settings.ingress.kafka_topic_prefix),
    }


def _delete_queue(queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_delete(queue)
    finally:
        connection.close()
