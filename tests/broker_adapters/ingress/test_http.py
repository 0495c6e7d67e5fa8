"""HTTP ingress through a real server on loopback and a real broker: every status it answers."""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from access.principals_file import PrincipalsFile
from addressregister.live import StaticRegister
from broker_adapters.http.ingress_api import IngressApiDeps, ingress_router
from broker_adapters.http.status import RecentMessages
from broker_adapters.ingress import IngressGate, IngressSettings
from hubcore.problems import PROBLEM_JSON
from meldingshub.openapi import COMMITTED, api_openapi, render
from meldingshub.settings import Settings
from metrics.ingress import IngressMetrics
from schemas.records import InboundMessage
from schemas.xmlparse import ParseLimits
from tests.broker_adapters.ingress.support import (
    Credentials,
    inbound_meta,
    make_credentials,
    msghead_samples,
    sender_organisation,
)
from tests.support.corpus_register import Sample
from tests.support.http import serve
from tests.support.hub import isolated_settings
from tests.support.kafka import read_all

LIMIT = 64 * 1024


@dataclass
class Hub:
    url: str
    settings: Settings
    credentials: Credentials
    registry: CollectorRegistry

    def post(
        self,
        body: bytes,
        token: str | None,
        content_type: str = "application/xml",
        request_id: str | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": content_type}
        if request_id is not None:
            headers["X-Request-Id"] = request_id
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(f"{self.url}/v1/messages", content=body, headers=headers, timeout=30)

    def status(self, message_id: str, token: str) -> httpx.Response:
        return httpx.get(
            f"{self.url}/v1/messages/{message_id}/status",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def refused(self, reason: str) -> float:
        value = self.registry.get_sample_value(
            "meldingshub_ingress_refused_total", {"adapter": "http", "reason": reason}
        )
        assert value is not None
        return value


@pytest.fixture(scope="module")
def hub(
    kafka_bootstrap: str,
    samples: list[Sample],
    register_view: StaticRegister,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hub]:
    settings = isolated_settings(kafka_bootstrap)
    credentials = make_credentials(tmp_path_factory.mktemp("principals"), samples)
    registry = CollectorRegistry()
    gate = IngressGate.create(
        settings.kafka,
        kafka_bootstrap,
        IngressSettings(),
        register_view,
        IngressMetrics(registry),
        ParseLimits(max_bytes=LIMIT),
    )
    app = FastAPI()
    app.include_router(
        ingress_router(
            IngressApiDeps(gate, PrincipalsFile(credentials.path), None, RecentMessages(1000))
        )
    )
    try:
        with serve(app) as url:
            yield Hub(url, settings, credentials, registry)
    finally:
        gate.close()


@pytest.fixture(scope="module")
def document(samples: list[Sample]) -> Sample:
    return msghead_samples(samples)[0]


def inbound_records(hub: Hub, expected: int) -> list[tuple[bytes, bytes, InboundMessage]]:
    bootstrap = hub.settings.kafka.bootstrap_servers
    records = read_all(bootstrap, hub.settings.kafka.topics.inbound.name, expected, 20)
    return [
        (
            r.key() or b"",
            r.value() or b"",
            inbound_meta(r),
        )
        for r in records
    ]


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["type"] == f"urn:meldingshub:problem:{slug}"
    assert body["title"] and body["detail"]
    return body


# -- accepted ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_xml_and_json_posts_are_on_hub_inbound_with_their_metadata(
    hub: Hub, document: Sample
) -> None:
    token = hub.credentials.sender_token
    as_xml = hub.post(document.raw, token, "application/xml; charset=utf-8", "epj-0001")
    as_json = hub.post(
        json.dumps({"businessDocument": base64.b64encode(document.raw).decode()}).encode(),
        token,
        "application/json",
    )

    ids = []
    for response in (as_xml, as_json):
        assert response.status_code == 202, response.text
        body = response.json()
        ids.append(UUID(body["id"]))
        assert response.headers["location"] == body["statusUrl"]
        assert body["statusUrl"].endswith(f"/v1/messages/{body['id']}/status")
    records = inbound_records(hub, 2)
    assert {meta.hub_message_id for _k, _v, meta in records} >= set(ids)
    for key, value, meta in records:
        if meta.hub_message_id in ids:
            # One organisation's messages share a partition and so one de-duplication state.
            assert key == str(sender_organisation(value)).encode()
            assert value == document.raw  # the bytes as sent, JSON unwrapped
            assert meta.adapter == "http"
            assert meta.principal == "epj"
            assert meta.size_bytes == len(document.raw)
            assert meta.received_at.tzinfo is not None
    request_ids = {m.hub_message_id: m.transport_message_id for _k, _v, m in records}
    assert [request_ids[i] for i in ids] == ["epj-0001", None]
    accepted = hub.registry.get_sample_value(
        "meldingshub_ingress_accepted_total", {"adapter": "http"}
    )
    assert accepted is not None and accepted >= 2


# -- refused ----------------------------------------------------------------------------------


@pytest.mark.integration
def test_missing_or_unknown_token_is_401(hub: Hub, document: Sample) -> None:
    before = hub.refused("unauthenticated")
    for token in (None, "mhub_not-a-token-the-hub-issued"):
        response = hub.post(document.raw, token)
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert hub.refused("unauthenticated") == before + 2


@pytest.mark.integration
def test_sender_not_allowed_for_the_principal_is_403(hub: Hub, document: Sample) -> None:
    before = hub.refused("sender_not_allowed")
    response = hub.post(document.raw, hub.credentials.other_token)
    body = assert_problem(response, 403, "sender-not-allowed")
    assert str(document.envelope.sender.organisation_her_id) in str(body["detail"])
    assert hub.refused("sender_not_allowed") == before + 1


@pytest.mark.integration
def test_body_over_the_limit_is_413(hub: Hub, document: Sample) -> None:
    padding = b"<!--" + b"x" * LIMIT + b"-->"
    too_big = document.raw.replace(b"?>", b"?>" + padding, 1)
    token = hub.credentials.sender_token
    assert_problem(hub.post(too_big, token), 413, "too-large")
    wrapped = json.dumps({"businessDocument": base64.b64encode(too_big).decode()}).encode()
    assert_problem(hub.post(wrapped, token, "application/json"), 413, "too-large")


@pytest.mark.integration
def test_wrong_content_type_is_415(hub: Hub, document: Sample) -> None:
    for content_type in ("text/plain", "application/octet-stream"):
        response = hub.post(document.raw, hub.credentials.sender_token, content_type)
        assert_problem(response, 415, "unsupported-media-type")


@pytest.mark.integration
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"this is not xml",
        b"<?xml version='1.0'?><MsgHead><MsgInfo>",  # truncated
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
    ],
    ids=["empty", "text", "truncated", "doctype"],
)
def test_not_xml_is_400(hub: Hub, body: bytes) -> None:
    before = hub.refused("not_xml")
    assert_problem(hub.post(body, hub.credentials.sender_token), 400, "not-xml")
    assert hub.refused("not_xml") == before + 1


@pytest.mark.integration
@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"document": "PHg+"}', b'{"businessDocument": "***not base64***"}'],
    ids=["not-json", "no-business-document", "not-base64"],
)
def test_malformed_json_is_400(hub: Hub, body: bytes) -> None:
    response = hub.post(body, hub.credentials.sender_token, "application/json")
    assert_problem(response, 400, "bad-request")


# -- status -----------------------------------------------------------------------------------


@pytest.mark.integration
def test_status_is_shown_to_the_sending_principal_only(hub: Hub, document: Sample) -> None:
    posted = hub.post(document.raw, hub.credentials.sender_token)
    assert posted.status_code == 202
    message_id = posted.json()["id"]

    mine = hub.status(message_id, hub.credentials.sender_token)
    assert mine.status_code == 200, mine.text
    assert mine.headers["cache-control"] == "no-store"
    body = mine.json()
    assert body["id"] == message_id
    assert body["transportState"] == "accepted"
    assert body["appRec"] == {"state": "none", "answers": []}

    assert_problem(hub.status(message_id, hub.credentials.other_token), 404, "unknown-message")
    assert_problem(hub.status(str(uuid4()), hub.credentials.sender_token), 404, "unknown-message")
    assert_problem(hub.status("not-an-id", hub.credentials.sender_token), 404, "unknown-message")
    no_token = httpx.get(f"{hub.url}/v1/messages/{message_id}/status", timeout=10)
    assert_problem(no_token, 401, "unauthenticated")


# -- OpenAPI ----------------------------------------------------------------------------------


def test_committed_openapi_document_is_the_generated_one() -> None:
    generated = render(api_openapi())
    assert COMMITTED.read_text(encoding="utf-8") == generated, (
        "meldingshub/openapi.json is stale: run .venv/bin/python -m meldingshub.openapi"
    )


def test_openapi_document_names_every_status_and_bearer_auth() -> None:
    document = json.loads(Path(COMMITTED).read_text(encoding="utf-8"))
    post = document["paths"]["/v1/messages"]["post"]
    assert set(post["responses"]) >= {"202", "400", "401", "403", "413", "415", "503"}
    assert set(post["requestBody"]["content"]) == {"application/xml", "application/json"}
    assert "bearerToken" in document["components"]["securitySchemes"]
    assert post["security"] == [{"bearerToken": []}]
    status = document["paths"]["/v1/messages/{message_id}/status"]["get"]
    assert set(status["responses"]) >= {"200", "401", "404"}
    assert status["responses"]["404"]["content"][PROBLEM_JSON]["schema"]["title"] == "Problem"
