"""Broker down during an HTTP post: 503 and nothing acknowledged; broker back: accepted once."""

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

import meldingshub.embedded_broker as embedded
from access.principals_file import PrincipalsFile
from addressregister.live import StaticRegister
from broker_adapters.http.ingress_api import IngressApiDeps, ingress_router
from broker_adapters.ingress import IngressGate, IngressSettings
from kafka_io import ensure_topics
from kafka_io.settings import KafkaSettings
from meldingshub.embedded_broker import EmbeddedBroker, free_port
from metrics.ingress import IngressMetrics
from tests.broker_adapters.ingress.support import (
    inbound_meta,
    make_credentials,
    msghead_samples,
    with_new_msg_id,
)
from tests.support.corpus_register import Sample
from tests.support.http import serve
from tests.support.kafka import read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test's own (never the session's), stopped and restarted by the test."""
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_503_while_the_broker_is_down_then_the_resent_message_is_accepted_once(
    own_broker: EmbeddedBroker,
    samples: list[Sample],
    register_view: StaticRegister,
    tmp_path: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bootstrap = own_broker.bootstrap_servers
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    ensure_topics({"bootstrap.servers": bootstrap}, kafka.topics.all())
    credentials = make_credentials(tmp_path, samples)  # type: ignore[arg-type]
    registry = CollectorRegistry()
    gate = IngressGate.create(
        kafka,
        bootstrap,
        IngressSettings(write_timeout_s=2.0, retry_after_s=1),
        register_view,
        IngressMetrics(registry),
    )
    app = FastAPI()
    app.include_router(ingress_router(IngressApiDeps(gate, PrincipalsFile(credentials.path))))
    template = msghead_samples(samples)[0].raw
    first, _ = with_new_msg_id(template)
    second, _ = with_new_msg_id(template)
    headers = {
        "Authorization": f"Bearer {credentials.sender_token}",
        "Content-Type": "application/xml",
    }

    def post(document: bytes) -> httpx.Response:
        return httpx.post(f"{url}/v1/messages", content=document, headers=headers, timeout=30)

    try:
        with serve(app) as url:
            assert post(first).status_code == 202

            own_broker.stop()
            down = post(second)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/problem+json"
            assert down.headers["retry-after"] == "1"
            assert "id" not in down.json()
            assert gate.ready() is False  # the readiness probe sends traffic elsewhere meanwhile

            # The same address again (the old connections' TIME_WAIT would fail the port check).
            monkeypatch.setattr(embedded, "_ensure_port_free", lambda _host, _port: None)
            own_broker.start()
            ensure_topics({"bootstrap.servers": bootstrap}, kafka.topics.all())
            # A well-behaved client re-sends after Retry-After until it gets its 202.
            deadline = time.monotonic() + 60
            answers = []
            while time.monotonic() < deadline:
                response = post(second)
                answers.append(response.status_code)
                if response.status_code == 202:
                    break
                assert response.status_code == 503, response.text
                time.sleep(float(response.headers["retry-after"]))
            assert answers[-1] == 202, answers
            accepted_id = response.json()["id"]
    finally:
        gate.close()

    # The restarted broker started empty: what is on hub.inbound now came after it was back.
    records = read_all(bootstrap, kafka.topics.inbound.name, 1, 20)
    assert [r.value() for r in records] == [second]
    meta = inbound_meta(records[0])
    assert str(meta.hub_message_id) == accepted_id
    refused = registry.get_sample_value(
        "meldingshub_ingress_refused_total", {"adapter": "http", "reason": "broker_unavailable"}
    )
    assert refused == answers.count(503) + 1
