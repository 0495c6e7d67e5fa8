"""The spoofing table against a running hub: every case through HTTP, AMQP, file and Kafka ingress.

One ``meldingshub run`` with the corpus register (plus a unit, a doctor and an
organisation number it lacks) and three principals. Each mutation of a corpus
sender is sent through every adapter by a principal that may not send as it:
none reaches a receiver, each is refused in its transport's own way and
counted, nothing is remembered for de-duplication (the real sender's message
with the same MsgId is routed afterwards), and the router's AppRecs go only to
principals' own organisations.
"""

import dataclasses
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
from confluent_kafka import Producer
from lxml import etree

from access.principals import Principal, Principals
from access.tokens import token_hash
from addressregister.fileformat import write_register_file
from addressregister.model import CommunicationParty, PartyKind
from meldingshub.embedded_broker import free_port
from schemas.reader import MessageReader
from schemas.records import RejectedMessage, RejectStage, RoutedMessage, decode
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode, Family
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub_process import HubProcess
from tests.support.kafka import read_all
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"
UNIT, DOCTOR = 990_001, 990_002
VICTIM_NUMBER = "987654325"
ADAPTERS = ("http", "amqp", "file", "kafka")


@dataclasses.dataclass
class World:
    hub: HubProcess
    api: str
    ops: str
    bootstrap: str
    document: bytes
    msg_id: str
    victim: int
    intruder: int
    tokens: dict[str, str]
    queues: dict[str, str]


def _sender_org(element: etree._Element) -> etree._Element:
    namespace = etree.QName(element).namespace
    found = element.find(f".//{{{namespace}}}Sender/{{{namespace}}}Organisation")
    assert found is not None
    return found


def _ident(parent: etree._Element, value: str, kind: str) -> None:
    namespace = etree.QName(parent).namespace
    ident = etree.SubElement(parent, f"{{{namespace}}}Ident")
    etree.SubElement(ident, f"{{{namespace}}}Id").text = value
    etree.SubElement(ident, f"{{{namespace}}}TypeId", V=kind, S="2.16.578.1.12.4.1.1.9051")


def with_sender(
    raw: bytes,
    org: int | None = None,
    number: str | None = None,
    unit: int | None = None,
    person: int | None = None,
) -> bytes:
    """The document with its sender replaced by the levels given (nothing else changed)."""
    tree = etree.fromstring(raw)
    organisation = _sender_org(tree)
    namespace = etree.QName(organisation).namespace
    for child in list(organisation):
        if etree.QName(child).localname in ("Ident", "Organisation", "HealthcareProfessional"):
            organisation.remove(child)
    if org is not None:
        _ident(organisation, str(org), "HER")
    if number is not None:
        _ident(organisation, number, "ENH")
    if unit is not None:
        sub = etree.SubElement(organisation, f"{{{namespace}}}Organisation")
        etree.SubElement(sub, f"{{{namespace}}}OrganisationName").text = "Avdeling"
        _ident(sub, str(unit), "HER")
    if person is not None:
        professional = etree.SubElement(organisation, f"{{{namespace}}}HealthcareProfessional")
        _ident(professional, str(person), "HER")
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def _party(her_id: int, kind: PartyKind, parent: int) -> CommunicationParty:
    return CommunicationParty(
        her_id=her_id,
        kind=kind,
        name=f"Part {her_id}",
        parent_her_id=parent,
        hpr_number="7654321" if kind is PartyKind.PERSON else None,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    samples = consistent(accepted_samples(MessageReader(SchemaSettings())))
    register = register_for(samples)
    dialog = next(
        s
        for s in samples
        if s.envelope.family is Family.DIALOG
        and s.envelope.is_msghead
        and s.envelope.sender.organisation_her_id != s.envelope.receiver.organisation_her_id
    )
    victim = dialog.envelope.sender.organisation_her_id
    intruder = next(
        s.envelope.sender.organisation_her_id
        for s in samples
        if s.envelope.sender.organisation_her_id
        not in (victim, dialog.envelope.receiver.organisation_her_id, None)
        and register.get(s.envelope.sender.organisation_her_id or 0) is not None
        and register.get(s.envelope.sender.organisation_her_id or 0).parent_her_id is None  # type: ignore[union-attr]
    )
    assert victim is not None and intruder is not None
    parties = [
        dataclasses.replace(p, organisation_number=VICTIM_NUMBER) if p.her_id == victim else p
        for p in register
    ]
    parties += [
        _party(UNIT, PartyKind.DEPARTMENT, victim),
        _party(DOCTOR, PartyKind.PERSON, intruder),
    ]
    directory = tmp_path_factory.mktemp("spoofing-hub")
    snapshot = directory / "register.json"
    write_register_file(snapshot, parties)
    run = uuid.uuid4().hex[:8]
    tokens = {name: f"token-{name}-{run}" for name in ("victim", "intruder", "doctor")}
    queues = {name: f"spoof-{run}-{name}.to-hub" for name in tokens}
    owned = {"victim": victim, "intruder": intruder, "doctor": DOCTOR}
    principals = Principals(
        Principal(
            name,
            frozenset({owned[name]}),
            token_hashes=frozenset({token_hash(tokens[name])}),
            amqp_inbound_queue=queues[name],
            amqp_error_queue=queues[name] + ".error",
            kafka_principal=f"User:{name}",
        )
        for name in tokens
    )
    (directory / "principals.toml").write_text(principals.to_toml(), encoding="utf-8")
    api = f"127.0.0.1:{free_port()}"
    hub = HubProcess(
        directory,
        MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT=str(snapshot),
        MELDINGSHUB_ACCESS__PRINCIPALS_FILE=str(directory / "principals.toml"),
        MELDINGSHUB_AMQP__URL=RABBITMQ,
        MELDINGSHUB_INGRESS__ADAPTERS='["http", "amqp", "file", "kafka"]',
        MELDINGSHUB_INGRESS__KAFKA_DISCOVERY_S="1",
        MELDINGSHUB_HTTP__API_BIND=api,
    )
    try:
        ready = hub.wait_for("hub ready", 60)
        ops = hub.env["MELDINGSHUB_HTTP__OPS_BIND"]
        yield World(
            hub,
            f"http://{api}",
            f"http://{ops}",
            ready["bootstrap_servers"],
            dialog.raw,
            dialog.envelope.msg_id or "",
            victim,
            intruder,
            tokens,
            queues,
        )
    finally:
        hub.process.terminate()
        hub.process.wait(30)


def cases(world: World) -> list[tuple[str, str, bytes]]:
    """``(name, principal, document)``: who sends what it may not send."""
    raw, victim, intruder = world.document, world.victim, world.intruder
    return [
        ("foreign organisation", "intruder", raw),
        ("organisation number only", "intruder", with_sender(raw, number=VICTIM_NUMBER)),
        ("own person, foreign organisation", "doctor", with_sender(raw, victim, person=DOCTOR)),
        ("person claims its organisation", "doctor", with_sender(raw, intruder)),
        ("unit of another organisation", "intruder", with_sender(raw, intruder, unit=UNIT)),
        ("unit and person mixed", "doctor", with_sender(raw, intruder, unit=UNIT, person=DOCTOR)),
    ]


def metric(world: World, name: str, labels: dict[str, str]) -> float:
    text = urllib.request.urlopen(f"{world.ops}/metrics", timeout=5).read().decode()  # noqa: S310
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and f"{{{wanted}}}" in line.replace(" ", ""):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _amqp_error(queue: str) -> dict[str, Any] | None:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True)
        method, properties, _body = channel.basic_get(queue, auto_ack=True)
        return dict(properties.headers or {}) if method is not None else None
    finally:
        connection.close()


def _amqp_publish(queue: str, body: bytes) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True)
        channel.confirm_delivery()
        channel.basic_publish(
            "", queue, body, pika.BasicProperties(message_id=str(uuid.uuid4()), delivery_mode=2)
        )
    finally:
        connection.close()


def send(world: World, adapter: str, principal: str, raw: bytes) -> Callable[[], Any]:
    """Send through ``adapter``; return a probe that is truthy once the refusal is visible."""
    if adapter == "http":
        response = httpx.post(
            f"{world.api}/v1/messages",
            content=raw,
            headers={
                "Content-Type": "application/xml",
                "Authorization": f"Bearer {world.tokens[principal]}",
            },
            timeout=10,
        )
        return lambda: response.status_code == 403 and "sender-not-allowed" in response.text
    if adapter == "amqp":
        _amqp_publish(world.queues[principal], raw)
        error_queue = world.queues[principal] + ".error"
        return lambda: (
            (_amqp_error(error_queue) or {}).get("errorCondition") == ("abuse:spoofing-attack")
        )
    if adapter == "file":
        inbox = world.hub.cwd / "inbox" / principal
        name = f"{uuid.uuid4().hex}.xml"
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / f"{name}.part").write_bytes(raw)
        (inbox / f"{name}.part").rename(inbox / name)
        report = inbox / "failed" / f"{name}.error.json"
        return lambda: report.is_file() and "sender_not_allowed" in report.read_text()
    producer = Producer({"bootstrap.servers": world.bootstrap, "message.max.bytes": 50_000_000})
    producer.produce(f"hub.ingress.{principal}", value=raw)
    assert producer.flush(15) == 0
    return lambda: True  # checked below on hub.rejected, all at once


def test_no_principal_can_send_as_another_through_any_ingress(world: World) -> None:
    table = cases(world)
    for adapter in ADAPTERS:
        for name, principal, raw in table:
            probe = send(world, adapter, principal, raw)
            wait_for(probe, 30, f"{adapter}: {name} refused")
    dead = read_all(world.bootstrap, "hub.rejected", len(table), 60)
    rejected = [decode(r.value() or b"", RejectedMessage) for r in dead]
    assert len(rejected) == len(table)
    assert {(m.stage, m.code) for m in rejected} == {(RejectStage.INGRESS, AppRecErrorCode.X99)}
    assert sorted(m.ingress.principal or "" for m in rejected) == sorted(p for _n, p, _r in table)
    for adapter in ADAPTERS:
        labels = {"adapter": adapter, "reason": "sender_not_allowed"}
        assert metric(world, "meldingshub_ingress_refused_total", labels) == len(table), adapter

    # Nothing was routed or remembered: the real sender's message, same MsgId, goes through.
    response = httpx.post(
        f"{world.api}/v1/messages",
        content=world.document,
        headers={
            "Content-Type": "application/xml",
            "Authorization": f"Bearer {world.tokens['victim']}",
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    (routed,) = [
        decode(r.value() or b"", RoutedMessage)
        for r in read_all(world.bootstrap, "hub.outbound", 1, 60)
    ]
    assert routed.msg_id == world.msg_id and routed.sender_her_id == world.victim
    assert routed.ingress.principal == "victim"


def test_roles_guard_the_operator_apis(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['victim']}"}
    statistics = httpx.get(f"{world.api}/v1/statistics", headers=headers, timeout=10)
    assert statistics.status_code == 403, statistics.text
    assert "operator" in statistics.text, statistics.text
    anonymous = httpx.get(f"{world.api}/v1/statistics", timeout=10)
    assert anonymous.status_code == 401
    register = httpx.get(f"{world.api}/v1/parties/{world.victim}", headers=headers, timeout=10)
    assert register.status_code == 403, register.text


def test_the_principals_file_is_followed_and_a_bad_edit_is_refused(world: World) -> None:
    path = Path(world.hub.env["MELDINGSHUB_ACCESS__PRINCIPALS_FILE"])
    good = path.read_text(encoding="utf-8")
    token = world.tokens["intruder"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}

    def post() -> int:
        url = f"{world.api}/v1/messages"
        return httpx.post(url, content=world.document, headers=headers, timeout=10).status_code

    try:
        path.write_text("", encoding="utf-8")  # emptied by mistake: refused, last good kept
        wait_for(
            lambda: _gauge(world, "meldingshub_principals_file_valid") == 0.0,
            30,
            "the emptied file refused",
        )
        assert post() == 403  # still authenticated: the last good principals stay in force
        path.write_text(good.replace(token_hash(token), token_hash("revoked")), encoding="utf-8")
        wait_for(lambda: post() == 401, 30, "the revoked token refused")
        assert _gauge(world, "meldingshub_principals_file_valid") == 1.0
    finally:
        path.write_text(good, encoding="utf-8")


def _gauge(world: World, name: str) -> float:
    text = urllib.request.urlopen(f"{world.ops}/metrics", timeout=5).read().decode()  # noqa: S310
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")
