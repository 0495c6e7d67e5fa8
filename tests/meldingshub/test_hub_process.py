"""`meldingshub run` as a user runs it: ready quickly, routes, stops cleanly, leaves no broker."""

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from addressregister.fileformat import write_register_file
from meldingshub.embedded_broker import free_port
from schemas.reader import MessageReader
from schemas.records import RoutedMessage, decode
from schemas.settings import SchemaSettings
from schemas.vocabulary import Family
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub_process import MELDINGSHUB, HubProcess
from tests.support.kafka import read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus_message(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, int]:
    """A register snapshot of the corpus parties and a dialog message between two of them."""
    reader = MessageReader(SchemaSettings())
    samples = consistent(accepted_samples(reader))
    register = register_for(samples)
    folder = tmp_path_factory.mktemp("corpus-register")
    snapshot = folder / "register.json"
    write_register_file(snapshot, list(register))
    sample = next(
        s
        for s in samples
        if s.envelope.family is Family.DIALOG
        and len(s.raw) < 100_000
        and s.envelope.receiver.organisation_her_id != s.envelope.sender.organisation_her_id
    )
    receiver = sample.envelope.receiver.organisation_her_id
    assert receiver is not None
    return snapshot, sample.raw, receiver


@pytest.fixture
def hub(tmp_path: Path, corpus_message: tuple[Path, bytes, int]) -> Iterator[HubProcess]:
    snapshot, raw, _receiver = corpus_message
    (tmp_path / "message.xml").write_bytes(raw)
    process = HubProcess(
        tmp_path,
        MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT=str(snapshot),
        # the README's demo: raw records on hub.inbound name no principal (explicit, embedded)
        MELDINGSHUB_ACCESS__OPEN_MODE="true",
    )
    yield process
    if process.process.poll() is None:
        process.process.kill()
        process.process.wait()


def broker_gone(pid: int) -> bool:
    """True when the pid no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if broker_gone(pid):
            return True
        time.sleep(0.05)
    return broker_gone(pid)


def test_ready_within_10s_routes_a_record_and_ctrl_c_stops_all_within_5s(
    hub: HubProcess, corpus_message: tuple[Path, bytes, int]
) -> None:
    broker_pid = hub.wait_for("embedded broker ready", 10)["pid"]
    ready = hub.wait_for("hub ready", 10 - (time.monotonic() - hub.started))
    assert ready["bootstrap_servers"] == f"127.0.0.1:{hub.port}"

    _snapshot, raw, receiver = corpus_message
    producer = Producer(
        {"bootstrap.servers": ready["bootstrap_servers"], "message.max.bytes": 50_000_000}
    )
    producer.produce("hub.inbound", value=raw)
    assert producer.flush(10) == 0
    records = read_all(ready["bootstrap_servers"], "hub.outbound", expected=1, timeout_s=20)
    assert [r.key() for r in records] == [str(receiver).encode()]
    assert decode(records[0].value() or b"", RoutedMessage).payload == raw

    stopping = time.monotonic()
    hub.process.send_signal(signal.SIGINT)
    assert hub.process.wait(5) == 0
    assert time.monotonic() - stopping < 5
    assert wait_gone(broker_pid, 0.5), "broker outlived the hub after Ctrl-C"


def test_kill_9_of_the_hub_leaves_no_broker(hub: HubProcess) -> None:
    broker_pid = hub.wait_for("embedded broker ready", 10)["pid"]
    assert not broker_gone(broker_pid)
    hub.process.kill()
    hub.process.wait()
    assert wait_gone(broker_pid, 5), "broker outlived a SIGKILLed hub"


def test_unreachable_broker_gives_one_clear_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "MELDINGSHUB_KAFKA__CONNECT_TIMEOUT_S": "2",
        "MELDINGSHUB_DATA_DIR": str(tmp_path),
        "MELDINGSHUB_HTTP__OPS_BIND": f"127.0.0.1:{free_port()}",
    }
    result = subprocess.run(
        [MELDINGSHUB, "run"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1
    assert errors[0].startswith("meldingshub: error: no Kafka broker answered")
    assert "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS" in errors[0]


def readme_command(marker: str, bootstrap: str) -> list[str]:
    """The shell command the README shows after ``<!-- marker -->``, aimed at ``bootstrap``."""
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = text.split(f"<!-- {marker} -->", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    command = shlex.split(block.strip().replace("127.0.0.1:9092", bootstrap))
    assert command[0] == ".venv/bin/python"
    return [sys.executable, *command[1:]]


def test_readme_one_liners_round_trip(
    hub: HubProcess, corpus_message: tuple[Path, bytes, int]
) -> None:
    bootstrap = hub.wait_for("hub ready", 10)["bootstrap_servers"]
    subprocess.run(readme_command("readme-produce", bootstrap), check=True, timeout=30, cwd=hub.cwd)
    out = subprocess.run(
        readme_command("readme-consume", bootstrap),
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == str(corpus_message[2])
