"""A running hub's ``meldingshub_broker_up`` and ``meldingshub_adapter_up`` follow the real state.

The shipped alerts ``MeldingshubBrokerUnreachable`` and ``MeldingshubAdapterDown`` fire on a
0, so a healthy hub must show 1 for the broker and for every ingress adapter it runs, and a
0 exactly where a transport is gone: an AMQP server that does not answer, a file inbox that
cannot be read, a broker stopped.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from addressregister.index import RegisterIndex
from meldingshub.embedded_broker import EmbeddedBroker, free_port
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.running_hub import RunningHub, failing_checks, hub_process, running_hub
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADAPTERS = {"http", "amqp", "kafka", "file"}
"""The test hub runs every ingress adapter (tests/support/running_hub.py)."""


@pytest.fixture(scope="module")
def register() -> RegisterIndex:
    """The corpus parties: the hub needs a loaded register to be ready."""
    return register_for(consistent(accepted_samples(MessageReader(SchemaSettings()))))


def health(hub: RunningHub) -> dict[str, float]:
    """``broker`` and each ``adapter`` label -> its gauge, from one scrape of ``/metrics``."""
    text = httpx.get(f"{hub.ops}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "meldingshub_broker_up":
                found["broker"] = sample.value
            elif sample.name == "meldingshub_adapter_up":
                found[sample.labels["adapter"]] = sample.value
    return found


def all_up() -> dict[str, float]:
    return {"broker": 1.0} | dict.fromkeys(ADAPTERS, 1.0)


def test_a_healthy_hub_shows_the_broker_and_every_adapter_up(
    kafka_bootstrap: str, register: RegisterIndex, tmp_path: Path
) -> None:
    with hub_process(kafka_bootstrap, tmp_path, register) as hub:
        assert hub.readyz().status_code == 200
        assert health(hub) == all_up()


def test_an_unreachable_amqp_server_downs_only_the_amqp_adapter(
    kafka_bootstrap: str, register: RegisterIndex, tmp_path: Path
) -> None:
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"  # nothing listens there
    with hub_process(
        kafka_bootstrap, tmp_path, register, amqp_url=closed, unready=frozenset({"ingress-amqp"})
    ) as hub:
        assert failing_checks(hub.readyz()) == ["ingress-amqp"]
        assert health(hub) == all_up() | {"amqp": 0.0}


def test_an_unreadable_file_inbox_downs_only_the_file_adapter_until_it_is_back(
    kafka_bootstrap: str, register: RegisterIndex, tmp_path: Path
) -> None:
    with running_hub(kafka_bootstrap, tmp_path, register) as hub:
        assert health(hub) == all_up()
        shutil.rmtree(hub.inbox)
        hub.inbox.write_bytes(b"")  # a file where the inbox directory was
        wait_for(
            lambda: health(hub) == all_up() | {"file": 0.0},
            30,
            "meldingshub_adapter_up{adapter=file} 0, the others 1",
        )
        hub.inbox.unlink()
        for directory in ("processing", "done", "failed"):
            (hub.inbox / directory).mkdir(parents=True)
        wait_for(lambda: health(hub) == all_up(), 30, "every gauge 1 again")


@pytest.fixture
def private_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    broker = EmbeddedBroker(port=free_port())
    broker.start(ready_timeout_s=20)
    try:
        yield broker
    finally:
        broker.stop()


def test_a_stopped_broker_shows_as_down(
    private_broker: EmbeddedBroker, register: RegisterIndex, tmp_path: Path
) -> None:
    with running_hub(private_broker.bootstrap_servers, tmp_path, register) as hub:
        assert health(hub) == all_up()
        private_broker.stop()
        wait_for(
            lambda: health(hub)["broker"] == 0.0,
            30,
            "meldingshub_broker_up 0 after the broker stopped",
            every_s=0.5,
        )
