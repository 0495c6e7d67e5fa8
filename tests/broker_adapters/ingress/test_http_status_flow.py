"""The status endpoint following messages through the real router and statistics aggregator."""

import threading
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from access.principals import read_principals
from access.principals_file import PrincipalsFile
from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from broker_adapters.http.ingress_api import IngressApiDeps, ingress_router
from broker_adapters.ingress import IngressGate, IngressSettings
from hubstats.aggregator import StatisticsAggregator
from hubstats.settings import StatisticsSettings
from hubstats.store import StatisticsStore
from meldingshub.components.router import RouterComponent
from schemas.reader import MessageReader
from tests.broker_adapters.ingress.support import (
    make_credentials,
    msghead_samples,
    with_new_msg_id,
)
from tests.support.corpus_register import Sample
from tests.support.http import serve
from tests.support.hub import isolated_settings, router_settings
from tests.support.waiting import running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def poll_status(url: str, token: str, wanted: set[str], timeout_s: float = 60) -> dict[str, Any]:
    """GET the status until its transport state is one of ``wanted``."""
    deadline = threading.Event()
    timer = threading.Timer(timeout_s, deadline.set)
    timer.start()
    last: dict[str, Any] = {}
    try:
        while not deadline.is_set():
            response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert response.status_code == 200, response.text
            last = response.json()
            if last["transportState"] in wanted:
                return last
            deadline.wait(0.1)
    finally:
        timer.cancel()
    raise AssertionError(f"status stayed {last.get('transportState')}, wanted {wanted}")


def test_status_follows_messages_from_accepted_to_routed_and_rejected(
    kafka_bootstrap: str,
    samples: list[Sample],
    register: RegisterIndex,
    reader: MessageReader,
    tmp_path: Path,
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    credentials = make_credentials(tmp_path, samples)
    store = StatisticsStore.open(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
    gate = IngressGate.create(
        settings.kafka, kafka_bootstrap, IngressSettings(), StaticRegister(register)
    )
    app = FastAPI()
    app.include_router(
        ingress_router(IngressApiDeps(gate, PrincipalsFile(credentials.path), store))
    )
    good, _ = with_new_msg_id(msghead_samples(samples)[0].raw)
    bad = good.replace(b"<MsgId>", b"<MsgId>not-a-uuid-", 1)
    token = credentials.sender_token

    with ExitStack() as stack:
        stack.callback(gate.close)
        stack.callback(store.close)
        url = stack.enter_context(serve(app))
        ids = []
        for document in (good, bad):
            response = httpx.post(
                f"{url}/v1/messages",
                content=document,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
                timeout=30,
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        good_url, bad_url = (f"{url}/v1/messages/{i}/status" for i in ids)
        # Nothing has routed them yet: the ingress process itself knows they were accepted.
        assert poll_status(good_url, token, {"accepted"}, 5)["appRec"]["state"] == "none"

        stack.enter_context(
            running(
                RouterComponent(
                    *router_settings(settings),
                    kafka_bootstrap,
                    lambda: register,
                    reader,
                    read_principals(credentials.path),
                )
            )
        )
        stack.enter_context(
            running(
                StatisticsAggregator(
                    settings.kafka,
                    kafka_bootstrap,
                    store,
                    StatisticsSettings(group_id=f"stats-{uuid.uuid4().hex[:8]}"),
                )
            )
        )
        routed = poll_status(good_url, token, {"routed", "delivered"})
        rejected = poll_status(bad_url, token, {"rejected"})

        assert routed["msgId"] is not None
        assert routed["receivers"]["routed"] >= 1
        assert routed["appRec"]["state"] == "none"
        assert rejected["reasonCode"] in {"E10", "T02"}
        assert rejected["reason"]
        # The store knows who sent them: another principal still cannot see either.
        for status_url in (good_url, bad_url):
            other = httpx.get(
                status_url,
                headers={"Authorization": f"Bearer {credentials.other_token}"},
                timeout=10,
            )
            assert other.status_code == 404
