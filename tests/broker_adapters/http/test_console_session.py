"""The console's sessions, CSRF tokens and escaping, without a broker (a SQLite store).

The dead-letter, replay and document sources are plain functions here: what the pages do
with them is under test, not Kafka (``test_console.py`` drives a running hub).
"""

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from access.principals import Principal, Principals, Role
from access.principals_file import PrincipalsFile
from access.tokens import new_token, token_hash
from addressregister.index import RegisterIndex
from broker_adapters.http.console import ConsoleDeps, HealthItem, console_router
from broker_adapters.http.console.session import COOKIE, Sessions
from hubstats.store import StatisticsStore
from schemas.vocabulary import EventType
from tests.support.events import event

OPERATOR, SENDER = new_token(), new_token()
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def store(tmp_path: Path) -> StatisticsStore:
    return StatisticsStore.open(f"sqlite:///{tmp_path / 'stats.sqlite3'}")


def client(store: StatisticsStore, principals: list[Principal]) -> tuple[TestClient, list[str]]:
    """A console over ``store``; the list records every replay asked for."""
    replays: list[str] = []

    def replay(ids: object, operator: str) -> dict[uuid.UUID, uuid.UUID]:
        replays.append(operator)
        return {}

    deps = ConsoleDeps(
        principals=PrincipalsFile.fixed(Principals(principals)),
        store=store,
        register=RegisterIndex.empty,
        dead_letters=list,
        dead_letter=lambda _id: [],
        replay=replay,
        document=lambda _id: None,
        health=lambda: [HealthItem("check", True, HOSTILE)],
        session_key=b"k" * 32,
    )
    app = FastAPI()
    app.include_router(console_router(deps))
    return TestClient(app), replays


def operators(token: str = OPERATOR) -> list[Principal]:
    return [
        Principal(
            "ops",
            frozenset({1}),
            roles=frozenset({Role.OPERATOR}),
            token_hashes=frozenset({token_hash(token)}),
        ),
        Principal("epj", frozenset({1}), token_hashes=frozenset({token_hash(SENDER)})),
    ]


def log_in(console: TestClient) -> str:
    """Log in as the operator; the CSRF token of the session's forms."""
    response = console.post(
        "/console/login", data={"token": OPERATOR, "next": "/console/dead-letters"}
    )
    assert response.status_code == 200, response.text
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found is not None
    return found.group(1)


def test_a_session_form_needs_its_csrf_token(store: StatisticsStore) -> None:
    console, replays = client(store, operators())
    csrf = log_in(console)
    without = console.post("/console/dead-letters/replay", data={"id": str(uuid.uuid4())})
    wrong = console.post("/console/dead-letters/replay", data={"csrf": "x", "id": "y"})
    foreign = console.post("/console/dead-letters/replay", data={"csrf": "æøå", "id": "y"})
    assert (without.status_code, wrong.status_code, foreign.status_code) == (403, 403, 403)
    assert replays == []
    ok = console.post("/console/dead-letters/replay", data={"csrf": csrf, "id": str(uuid.uuid4())})
    assert ok.status_code == 200 and replays == ["ops"]


def test_a_forged_expired_or_revoked_session_is_no_session(store: StatisticsStore) -> None:
    console, _ = client(store, operators())
    log_in(console)
    good = console.cookies[COOKIE]
    body, signature = good.split(".")
    console.cookies.set(COOKIE, f"{body}.{signature[::-1]}", path="/console")
    assert console.get("/console/messages").status_code == 401
    expired, _session = Sessions(b"k" * 32, timedelta(hours=-1)).issue(
        "ops", token_hash(OPERATOR), datetime.now(UTC)
    )
    console.cookies.set(COOKIE, expired, path="/console")
    assert console.get("/console/messages").status_code == 401
    # the operator's token is replaced in the principals file: its sessions end
    revoked, _ = client(store, operators(new_token()))
    revoked.cookies.set(COOKIE, good, path="/console")
    assert revoked.get("/console/messages").status_code == 401


def test_the_login_redirect_stays_in_the_console(store: StatisticsStore) -> None:
    console, _ = client(store, operators())
    response = console.post(
        "/console/login",
        data={"token": OPERATOR, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/messages"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # served over plain HTTP here


def test_everything_shown_is_escaped(store: StatisticsStore) -> None:
    message = uuid.uuid4()
    store.apply([event(EventType.ACCEPTED, message, msg_id=HOSTILE)])
    console, _ = client(store, operators())
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    pages = [
        console.get("/console/messages", params={"q": HOSTILE}, headers=headers),
        console.get(f"/console/messages/{message}", headers=headers),
        console.get("/console/health", headers=headers),
        console.get("/console/receivers", params={"lookup": HOSTILE}, headers=headers),
    ]
    for page in pages:
        assert page.status_code == 200
        assert HOSTILE not in page.text
        assert "&lt;script&gt;" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
