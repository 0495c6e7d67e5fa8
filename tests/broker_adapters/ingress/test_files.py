"""File catalogue ingress: claim by rename, done/ only after the durable write, kill-safe."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from access.principals import Principals, read_principals
from access.principals_file import PrincipalsFile
from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from broker_adapters.ingress import IngressGate, IngressSettings
from broker_adapters.ingress.files import FileCatalogueIngress
from meldingshub.components.router import RouterComponent
from meldingshub.settings import Settings
from routing.decision import Routed
from routing.pipeline import decide
from schemas.reader import MessageReader
from schemas.records import InboundMessage, RoutedMessage, decode
from tests.broker_adapters.ingress.support import (
    inbound_meta,
    make_credentials,
    msghead_samples,
    with_new_msg_id,
)
from tests.support.corpus_register import Sample
from tests.support.hub import isolated_settings, router_settings
from tests.support.kafka import read_all
from tests.support.shared import REPO
from tests.support.waiting import running, wait_for

pytestmark = pytest.mark.integration

_MSG_ID = re.compile(rb"<(?:\w+:)?MsgId>([^<]+)</")


def drop(inbox: Path, name: str, body: bytes) -> None:
    """Write as the EPJ systems do: under a temporary name, then rename when complete."""
    partial = inbox / f"{name}.part"
    partial.write_bytes(body)
    partial.rename(inbox / name)


def count(directory: Path, pattern: str = "*.xml") -> int:
    return sum(1 for _ in directory.glob(pattern))


def test_only_complete_files_are_taken_and_refusals_explained(
    kafka_bootstrap: str, samples: list[Sample], register_view: StaticRegister, tmp_path: Path
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    credentials = make_credentials(tmp_path, samples)
    root = tmp_path / "inbox"
    inbox = root / "epj"
    (inbox / "processing").mkdir(parents=True)
    template = msghead_samples(samples)[0].raw
    left_over = with_new_msg_id(template)[0]
    (inbox / "processing" / "left-over.xml").write_bytes(left_over)  # a previous run died
    good = with_new_msg_id(template)[0]
    drop(inbox, "good.xml", good)
    drop(inbox, "broken.xml", b"<MsgHead><MsgInfo>")
    (inbox / "still-writing.xml.part").write_bytes(b"<half")
    (inbox / ".hidden.xml").write_bytes(b"<half")
    (inbox / "notes.txt").write_text("not a message")
    gate = IngressGate.create(
        settings.kafka, kafka_bootstrap, IngressSettings(file_poll_interval_s=0.05), register_view
    )
    try:
        with running(
            FileCatalogueIngress(gate, PrincipalsFile(credentials.path), root), until_ready=True
        ):
            wait_for(
                lambda: count(inbox / "done") == 2 and count(inbox / "failed") == 1,
                20,
                "files were not finished",
            )
    finally:
        gate.close()

    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["good.xml", "left-over.xml"]
    assert count(inbox / "processing", "*") == 0
    assert {p.name for p in inbox.iterdir() if p.is_file()} == {
        "still-writing.xml.part",
        ".hidden.xml",
        "notes.txt",
    }
    report = json.loads((inbox / "failed" / "broken.xml.error.json").read_text())
    assert report["reason"] == "not_xml"
    assert report["principal"] == "epj"
    assert report["detail"]
    records = read_all(kafka_bootstrap, settings.kafka.topics.inbound.name, 2, 20)
    assert sorted(r.value() or b"" for r in records) == sorted([good, left_over])
    names = {inbound_meta(r).transport_message_id for r in records}
    assert names == {"good.xml", "left-over.xml"}


# -- 1,000 files across a SIGKILL --------------------------------------------------------------

TOTAL = 1000
BAD = 20


def routable(samples: list[Sample], register: RegisterIndex, reader: MessageReader) -> list[Sample]:
    """MsgHead samples the router routes (not rejects), judged by the pure pipeline."""
    now = datetime.now(UTC)
    kept = []
    for sample in msghead_samples(samples):
        meta = InboundMessage(
            hub_message_id=uuid4(), adapter="file", principal="epj", received_at=now, size_bytes=1
        )
        decision = decide(
            reader.read(sample.raw), meta, register, Principals.open(), lambda _k: None, now
        )
        if isinstance(decision, Routed):
            kept.append(sample)
    assert len(kept) >= 5
    return kept


def start_ingress(settings: Settings) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.broker_adapters.ingress.file_process",
            settings.model_dump_json(),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ingress ready"
    return process


@pytest.mark.slow
def test_a_thousand_files_across_a_kill_end_in_done_or_failed_and_route_once(
    kafka_bootstrap: str,
    samples: list[Sample],
    register: RegisterIndex,
    reader: MessageReader,
    tmp_path: Path,
) -> None:
    credentials = make_credentials(tmp_path, samples)
    root = tmp_path / "inbox"
    base = isolated_settings(kafka_bootstrap, principals_file=credentials.path)
    settings = base.model_copy(
        update={
            "ingress": IngressSettings(
                file_root=root, file_batch=50, file_poll_interval_s=0.05, write_timeout_s=10
            )
        }
    )
    inbox = root / "epj"
    inbox.mkdir(parents=True)
    templates = routable(samples, register, reader)
    documents: dict[str, bytes] = {}
    deliveries = 0
    for number in range(TOTAL - BAD):
        template = templates[number % len(templates)]
        body, msg_id = with_new_msg_id(template.raw)
        documents[msg_id] = body
        deliveries += 1 + len(template.envelope.copy_receivers)
    files = [(f"m{n:04d}.xml", body) for n, body in enumerate(documents.values())]
    files += [(f"bad{n:02d}.xml", b"<not-closed>") for n in range(BAD)]
    files.sort()  # bad ones among the good ones

    router = RouterComponent(
        *router_settings(settings),
        kafka_bootstrap,
        lambda: register,
        reader,
        read_principals(credentials.path),
    )
    stop_router = threading.Event()
    router_thread = threading.Thread(target=router.run, args=(stop_router,), daemon=True)
    router_thread.start()
    try:
        for name, body in files[: TOTAL // 2]:
            drop(inbox, name, body)
        first = start_ingress(settings)
        wait_for(lambda: count(inbox / "done") >= 100, 60, "nothing was finished")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_with = count(inbox / "processing")
        for name, body in files[TOTAL // 2 :]:
            drop(inbox, name, body)

        second = start_ingress(settings)
        try:
            wait_for(
                lambda: count(inbox / "done") + count(inbox / "failed") == TOTAL,
                120,
                "not every file ended in done/ or failed/",
            )
        finally:
            second.terminate()
            assert second.wait(20) == 0
        outbound = read_all(kafka_bootstrap, settings.kafka.topics.outbound.name, deliveries, 120)
        inbound = read_all(kafka_bootstrap, settings.kafka.topics.inbound.name, TOTAL - BAD, 30)
    finally:
        stop_router.set()
        router_thread.join(30)

    assert count(inbox, "*.xml") == count(inbox / "processing") == 0
    assert count(inbox / "failed") == BAD
    assert count(inbox / "failed", "*.error.json") == BAD
    assert count(inbox / "done") == TOTAL - BAD
    # Every good file is on hub.inbound at least once (twice if the kill came after its write) ...
    on_inbound = Counter(
        m.group(1).decode() for r in inbound if (m := _MSG_ID.search(r.value() or b""))
    )
    assert set(on_inbound) == set(documents)
    assert len(inbound) - len(documents) <= killed_with  # re-sent: only what was claimed
    # ... and routed exactly once to each of its receivers.
    routed = [decode(r.value() or b"", RoutedMessage) for r in outbound]
    assert len(routed) == deliveries
    per_message = Counter((m.msg_id, m.receiver_her_id, m.is_copy) for m in routed)
    assert set(per_message.values()) == {1}
    assert {m.msg_id for m in routed if not m.is_copy} == set(documents)


def test_a_pass_takes_files_up_to_the_byte_budget(
    kafka_bootstrap: str,
    samples: list[Sample],
    register_view: StaticRegister,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the adapter holds at once is bounded by bytes, not only by a count of files."""
    settings = isolated_settings(kafka_bootstrap)
    credentials = make_credentials(tmp_path, samples)
    inbox = tmp_path / "inbox" / "epj"
    inbox.mkdir(parents=True)
    template = msghead_samples(samples)[0].raw
    padding = b"<!--" + b"p" * (300 * 1024) + b"-->"
    for n in range(8):
        drop(inbox, f"m{n}.xml", with_new_msg_id(template)[0] + padding)
    budget = 1024 * 1024
    sent: list[int] = []
    original = FileCatalogueIngress._send

    def recording(self: FileCatalogueIngress, box: object, files: list[Path]) -> int:
        sent.append(sum(p.stat().st_size for p in files))
        return original(self, box, files)  # type: ignore[arg-type]

    monkeypatch.setattr(FileCatalogueIngress, "_send", recording)
    gate = IngressGate.create(
        settings.kafka,
        kafka_bootstrap,
        IngressSettings(file_poll_interval_s=0.05, in_flight_bytes=budget),
        register_view,
    )
    try:
        with running(
            FileCatalogueIngress(gate, PrincipalsFile(credentials.path), tmp_path / "inbox"),
            until_ready=True,
        ):
            wait_for(lambda: count(inbox / "done") == 8, 30, "files were not finished")
    finally:
        gate.close()
    assert len(sent) >= 3 and max(sent) <= budget, sent
