"""Canary: a marker in every free-text value of every corpus document, sent through every
ingress of a running `meldingshub run`, appears only in the copies of the messages.

Variants carry it where each rejection is found (not well-formed, an XSD error with
quotes and an apostrophe, unknown receiver, unknown type, spoofed sender, delivery
given up), file names and transport headers carry it too. It must then be absent
from the hub's log output, ``hub.events``, the reasons on ``hub.rejected``,
``/metrics``, every table of the statistics store (but the mailbox's documents),
HTTP answers and problem details, ``meldingshub dlq list`` and ``inspect``.
"""

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
from confluent_kafka import Producer

from access.tokens import token_hash
from addressregister.fileformat import write_register_file
from addressregister.model import Endpoint, EndpointKind
from kafka_io.settings import KafkaSettings
from meldingshub.dlq import read_dead_letters
from meldingshub.embedded_broker import free_port
from schemas.reader import MessageReader
from schemas.records import INBOUND_HEADER, MessageEvent, RejectedMessage, decode
from schemas.settings import SchemaSettings
from schemas.vocabulary import EventType
from tests.support.canary import mark, variants
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub_process import MELDINGSHUB
from tests.support.kafka import read_all
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"
TERMINAL = {EventType.ROUTED, EventType.REJECTED, EventType.DUPLICATE}


_DIGITS_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")


class Canary:
    """The marked documents, the principals and register they need, and how to send them."""

    def __init__(self, tmp_path: Path) -> None:
        # letters only: a run of digits could read as a fødselsnummer and be refused as one
        self.marker = "mrk" + uuid.uuid4().hex[:12].translate(_DIGITS_TO_LETTERS)
        self.tmp = tmp_path
        reader = MessageReader(SchemaSettings())
        samples = consistent(accepted_samples(reader))
        marked = [(s, mark(s.raw, self.marker, reader)) for s in samples]
        self.documents = [raw for _s, raw in marked if raw is not None]
        assert len(self.documents) >= 100, "the generator lost too many corpus documents"
        base = next(
            s
            for s in samples
            if s.envelope.gen_date and f"<GenDate>{s.envelope.gen_date}<".encode() in s.raw
        )
        self.vias = [i % 4 for i in range(len(self.documents))]
        assert base.envelope.msg_id is not None
        # 0 HTTP, 1 file, 2 AMQP, 3 Kafka; ingress refuses a not-well-formed document.
        vias = {"not-well-formed": (2, 1), "xsd-quotes": (0, 1), "unknown-receiver": (1, 2)}
        for name, raw in variants(base, self.marker, reader).items():
            for via in vias.get(name, (3, 0)):
                self.documents.append(raw.replace(base.envelope.msg_id.encode(), _uuid(), 1))
                self.vias.append(via)
        # Delivery given up: this organisation's endpoint cannot be used at all.
        self.dead = samples[-1].envelope.receiver.organisation_her_id
        index = register_for(samples)
        parties = [
            replace(p, endpoint=Endpoint(EndpointKind.WEBHOOK, f"http://127.0.0.1:1/{self.marker}"))
            if p.her_id == self.dead
            else p
            for p in index
        ]
        self.snapshot = tmp_path / "register.json"
        write_register_file(self.snapshot, parties)
        senders = sorted(
            {
                her_id
                for s in samples
                if (her_id := s.envelope.sender.organisation_her_id) is not None
            }
        )
        self.spoofed = self.documents[0].replace(base.envelope.msg_id.encode(), _uuid())
        run = uuid.uuid4().hex[:8]
        self.queue = f"canary-{run}.to-hub"
        self.token, self.intruder_token = f"mhub_canary{run}", f"mhub_intruder{run}"
        self.inbox = tmp_path / "inbox-canary"
        self.principals = tmp_path / "principals.toml"
        self.principals.write_text(
            f'[[principal]]\nname = "canary"\nsender_her_ids = {senders}\n'
            f'token_hashes = ["{_hash(self.token)}"]\namqp_inbound_queue = "{self.queue}"\n'
            f'amqp_error_queue = "canary-{run}.error"\nfile_inbox = "{self.inbox}"\n'
            'kafka_principal = "User:canary"\n\n'
            f'[[principal]]\nname = "intruder"\nsender_her_ids = [1]\n'
            f'token_hashes = ["{_hash(self.intruder_token)}"]\n',
            encoding="utf-8",
        )


def _hash(token: str) -> str:
    return token_hash(token)


def _uuid() -> bytes:
    return str(uuid.uuid4()).encode()


@pytest.fixture
def canary(tmp_path: Path) -> Canary:
    return Canary(tmp_path)


class CanaryHub:
    """`meldingshub run` with every line it writes kept (stdout and stderr alike)."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.api = f"127.0.0.1:{free_port()}"
        self.ops = f"127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "MELDINGSHUB_KAFKA__EMBEDDED_PORT": str(free_port()),
            "MELDINGSHUB_HTTP__OPS_BIND": self.ops,
            "MELDINGSHUB_HTTP__API_BIND": self.api,
            "MELDINGSHUB_DATA_DIR": str(tmp_path),
            "MELDINGSHUB_LOG__FORMAT": "json",
            **env,
        }
        self.env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [MELDINGSHUB, "run"],
            env=self.env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, event: str, timeout_s: float) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for line in list(self.lines):
                if line.startswith("{") and json.loads(line).get("event") == event:
                    return dict(json.loads(line))
            return None

        deadline = time.monotonic() + timeout_s
        while found() is None and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        record = found()
        assert record is not None, "".join(self.lines)[-3000:]
        return record

    def ready(self, timeout_s: float) -> dict[str, Any]:
        """Ready: every adapter runs (Kafka ingress made the canary principal's topic)."""
        return self.wait_for("hub ready", timeout_s)

    def stop(self) -> str:
        """Ctrl-C, and everything the process wrote."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)
        self._reader.join(10)
        return "".join(self.lines)


@pytest.fixture
def hub(canary: Canary, tmp_path: Path) -> Iterator[CanaryHub]:
    process = CanaryHub(
        tmp_path,
        MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT=str(canary.snapshot),
        MELDINGSHUB_ACCESS__PRINCIPALS_FILE=str(canary.principals),
        MELDINGSHUB_INGRESS__ADAPTERS='["http", "amqp", "file", "kafka"]',
        MELDINGSHUB_AMQP__URL=RABBITMQ,
        MELDINGSHUB_INGRESS__FILE_POLL_INTERVAL_S="0.1",
        MELDINGSHUB_DELIVERY__MAX_ATTEMPTS="1",
    )
    yield process
    if process.process.poll() is None:
        process.process.kill()
        process.process.wait()


def send_all(canary: Canary, bootstrap: str, api: str) -> tuple[list[str], list[str]]:
    """Every document through one of the four ingresses in turn; HTTP ids and answers."""
    ids: list[str] = []
    answers: list[str] = []
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 50_000_000})
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    channel = connection.channel()
    channel.queue_declare(canary.queue, durable=True)
    channel.confirm_delivery()
    canary.inbox.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": f"Bearer {canary.token}", "X-Request-Id": canary.marker}
    with httpx.Client(base_url=f"http://{api}", timeout=30) as client:
        for i, (raw, via) in enumerate(zip(canary.documents, canary.vias, strict=True)):
            if via == 0:
                answer = client.post(
                    "/v1/messages",
                    content=raw,
                    headers={**headers, "Content-Type": "application/xml"},
                )
                assert answer.status_code == 202, answer.text
                ids.append(answer.json()["id"])
                answers.append(answer.text)
            elif via == 1:
                partial = canary.inbox / f"{canary.marker}-{i}.part"
                partial.write_bytes(raw)
                partial.rename(partial.with_suffix(".xml"))
            elif via == 2:
                channel.basic_publish(
                    "",
                    canary.queue,
                    raw,
                    pika.BasicProperties(
                        message_id=f"{canary.marker}-{i}",
                        headers={"note": canary.marker},
                        delivery_mode=pika.DeliveryMode.Persistent,
                    ),
                )
            else:
                producer.produce(
                    "hub.ingress.canary",
                    value=raw,
                    headers=[("note", canary.marker.encode())],
                )
        spoof = client.post(
            "/v1/messages",
            content=canary.spoofed,
            headers={"Authorization": f"Bearer {canary.intruder_token}"}
            | {"Content-Type": "application/xml"},
        )
        assert spoof.status_code == 403, spoof.text  # the gate refuses a spoofed sender today
        answers.append(spoof.text)
        bad: tuple[tuple[str | bytes, str], ...] = (
            (json.dumps({"businessDocument": f"{canary.marker}'\"!"}), "application/json"),
            (canary.documents[0], f"text/{canary.marker}"),
        )
        for content, content_type in bad:
            refused = client.post(
                "/v1/messages",
                content=content,
                headers={**headers, "Content-Type": content_type},
            )
            assert refused.status_code in (400, 415), refused.text
            answers.append(refused.text + json.dumps(dict(refused.headers)))
    assert producer.flush(30) == 0
    connection.close()
    return ids, answers


def test_the_marker_stays_in_the_message_copies(
    canary: Canary, hub: CanaryHub, tmp_path: Path
) -> None:
    marker = canary.marker
    bootstrap = hub.ready(60)["bootstrap_servers"]
    api = hub.api
    ids, answers = send_all(canary, bootstrap, api)
    sent = len(canary.documents)

    # The AMQP and file adapters refuse the not-well-formed variants at the door.
    inbound = read_all(bootstrap, "hub.inbound", expected=sent - 2, timeout_s=60)
    assert len(inbound) == sent - 2
    assert all(marker.encode() in (r.value() or b"") for r in inbound)
    assert all(dict(r.headers() or [])[INBOUND_HEADER] for r in inbound)

    def events() -> list[MessageEvent]:
        records = read_all(bootstrap, "hub.events", expected=1, timeout_s=2)
        return [decode(r.value() or b"", MessageEvent) for r in records]

    def all_decided() -> bool:
        done = {e.hub_message_id for e in events() if e.event_type in TERMINAL}
        return len(done) >= len(inbound)

    wait_for(all_decided, 90, "a decision for every message")
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    wait_for(  # read to each partition's end: the newest letter is the one wanted
        lambda: any(
            letter.message.stage.value == "delivery"
            for letter in read_dead_letters(kafka, bootstrap, keep_payload=False)
        ),
        60,
        "a dead-lettered delivery",
    )
    rejected = [
        decode(r.value() or b"", RejectedMessage)
        for r in read_all(bootstrap, "hub.rejected", expected=1, timeout_s=2)
    ]
    codes = {r.code.value for r in rejected}
    assert {"T02", "E21", "X99"} <= codes, codes
    assert any(marker.encode() in r.payload for r in rejected)  # the copies keep it
    outbound = read_all(bootstrap, "hub.outbound", expected=1, timeout_s=5)
    assert any(marker.encode() in (r.value() or b"") for r in outbound)

    seen: dict[str, str] = {
        "hub.events": "".join(
            (r.value() or b"").decode("utf-8", "replace")
            for r in read_all(bootstrap, "hub.events", expected=1, timeout_s=2)
        ),
        "hub.rejected reasons": " ".join(r.reason for r in rejected),
        "http answers": " ".join(answers),
    }
    with httpx.Client(timeout=30) as client:
        metrics = client.get(f"http://{hub.ops}/metrics")
        assert metrics.status_code == 200
        seen["/metrics"] = metrics.text
        token = {"Authorization": f"Bearer {canary.token}"}
        seen["status"] = " ".join(
            client.get(f"http://{api}/v1/messages/{i}/status", headers=token).text for i in ids
        )
        seen["statistics"] = client.get(
            f"http://{api}/v1/statistics",
            params={"from": "2000-01-01", "to": "2100-12-31", "granularity": "year"},
        ).text
    reports = [json.loads(p.read_text()) for p in canary.inbox.glob("failed/*.error.json")]
    assert len(reports) == 1
    # The file name is the sender's own, in its own directory; the rest is the hub's.
    seen["file refusal"] = json.dumps([{**r, "file": None} for r in reports])
    seen["store"] = dump_store(tmp_path / "meldingshub.sqlite3")
    env = hub.env
    seen["dlq list"] = run_cli(["dlq", "list"], env, tmp_path)
    documents = tmp_path / "documents"
    documents.mkdir()
    for i, raw in enumerate(canary.documents):
        (documents / f"doc-{i}.xml").write_bytes(raw)
    files = sorted(str(p) for p in documents.iterdir())
    seen["inspect"] = run_cli(["inspect", *files], env, tmp_path) + run_cli(
        ["inspect", "--json", *files], env, tmp_path
    )

    seen["log"] = hub.stop()
    assert "hub ready" in seen["log"]

    leaks = {where: text for where, text in seen.items() if marker in text}
    assert not leaks, {where: _around(text, marker) for where, text in leaks.items()}


def _around(text: str, marker: str) -> str:
    at = text.index(marker)
    return text[max(0, at - 300) : at + 100]


def dump_store(path: Path) -> str:
    """Every row of every table, but the mailbox's documents (copies of the message)."""
    lines: list[str] = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f"pragma table_info({table})")]
            kept = [c for c in columns if not ("mailbox" in table and c == "payload")]
            for row in db.execute(f"select {', '.join(kept)} from {table}"):  # noqa: S608
                lines.append(f"{table}: {row!r}")
    assert lines, "the statistics store is empty"
    return "\n".join(lines)


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [MELDINGSHUB, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return result.stdout + result.stderr
