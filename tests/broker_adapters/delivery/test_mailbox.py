"""The HTTP mailbox: its table from the store's migrations, idempotent storing, retention,
and the API (list, fetch, mark read) where a token sees only its own HER-ids — on SQLite and
PostgreSQL."""

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from access.tokens import token_hash
from broker_adapters.delivery.base import Failed, HandedOver, Handover
from broker_adapters.delivery.mailbox import MailboxEndpoint
from broker_adapters.delivery.mailbox_api import mailbox_router
from broker_adapters.delivery.mailbox_store import MailboxStore, mailbox_id, mailbox_messages
from tests.broker_adapters.delivery.support import routed

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GP, MUNICIPALITY, OTHER = 9_600_001, 9_600_002, 9_600_003
TOKEN = "token-of-the-gp-system"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailboxStore]:
    """A fresh, migrated store (PostgreSQL: in a schema of its own, dropped afterwards)."""
    if request.param == "sqlite":
        mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        yield mailbox
        mailbox.engine.dispose()
        return
    name = f"mailbox_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    mailbox = MailboxStore.open(f"{POSTGRES}?options=-csearch_path%3D{name}")
    try:
        yield mailbox
    finally:
        mailbox.engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def client(store: MailboxStore) -> TestClient:
    principals = Principals(
        [
            Principal(
                "gp-system",
                frozenset({GP, MUNICIPALITY}),
                token_hashes=frozenset({token_hash(TOKEN)}),
            ),
            Principal(
                "other", frozenset({OTHER}), token_hashes=frozenset({token_hash("other-token")})
            ),
        ]
    )
    app = FastAPI()
    app.include_router(mailbox_router(store, PrincipalsFile.fixed(principals)))
    return TestClient(app)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_the_migrated_table_matches_the_model(store: MailboxStore) -> None:
    inspector = sa.inspect(store.engine)
    columns = {c["name"] for c in inspector.get_columns("mailbox_messages")}
    assert columns == set(mailbox_messages.columns.keys())
    primary = inspector.get_pk_constraint("mailbox_messages")["constrained_columns"]
    assert primary == ["id"]


def test_storing_is_idempotent_and_pruning_keeps_unread(store: MailboxStore) -> None:
    message = routed(GP, 1)
    endpoint = MailboxEndpoint(store)
    assert endpoint.deliver(Handover(message, "gp", 1)) == HandedOver()
    assert endpoint.deliver(Handover(message, "gp", 2)) == HandedOver()
    assert [e.hub_message_id for e in store.unread([GP])] == [message.hub_message_id]
    ident = mailbox_id(message.hub_message_id, GP)
    old = datetime.now(UTC) - timedelta(days=40)
    unread_old = routed(GP, 2)
    store.put(unread_old, now=old)
    assert store.mark_read(ident, now=old)
    assert store.prune(timedelta(days=30)) == 1  # read 40 days ago: gone; unread stays
    assert store.get(ident) is None
    assert [e.hub_message_id for e in store.unread([GP])] == [unread_old.hub_message_id]


def test_oldest_unread_spans_receivers_oldest_first(store: MailboxStore) -> None:
    """What the embedded demo's simulated receivers take (no API serves it)."""
    now = datetime.now(UTC)
    newer, older, read = routed(GP, 1), routed(OTHER, 1), routed(MUNICIPALITY, 1)
    store.put(newer, now=now)
    store.put(older, now=now - timedelta(minutes=1))
    store.put(read, now=now - timedelta(minutes=2))
    assert store.mark_read(mailbox_id(read.hub_message_id, MUNICIPALITY))
    later = now + timedelta(seconds=1)
    assert store.oldest_unread(10, later) == [
        mailbox_id(older.hub_message_id, OTHER),
        mailbox_id(newer.hub_message_id, GP),
    ]
    assert len(store.oldest_unread(1, later)) == 1
    assert store.oldest_unread(10, now) == [mailbox_id(older.hub_message_id, OTHER)]


def test_an_unreachable_store_is_a_retried_failure(tmp_path: Path) -> None:
    broken = MailboxStore(sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.sqlite3"))
    result = MailboxEndpoint(broken).deliver(Handover(routed(GP, 1), "gp", 1))
    assert isinstance(result, Failed) and not result.permanent
    assert result.reason.startswith("mailbox store unavailable")


def test_a_receiver_lists_fetches_and_marks_read_its_own_messages(
    store: MailboxStore, client: TestClient
) -> None:
    mine = [routed(GP, 1), routed(GP, 2), routed(MUNICIPALITY, 1)]
    theirs = routed(OTHER, 1)
    for message in [*mine, theirs]:
        store.put(message)
    listing = client.get("/v1/mailbox/messages", params={"receiverHerId": GP}, headers=AUTH)
    assert listing.status_code == 200
    items = listing.json()["messages"]
    assert [i["hubMessageId"] for i in items] == [str(m.hub_message_id) for m in mine[:2]]
    everything = client.get("/v1/mailbox/messages", headers=AUTH).json()["messages"]
    assert {i["receiverHerId"] for i in everything} == {GP, MUNICIPALITY}  # never OTHER
    first = items[0]
    fetched = client.get(f"/v1/mailbox/messages/{first['id']}", headers=AUTH)
    assert fetched.status_code == 200
    body = fetched.json()
    assert base64.b64decode(body["businessDocument"]) == mine[0].payload
    assert body["msgId"] == mine[0].msg_id and body["readAt"] is None
    raw = client.get(
        f"/v1/mailbox/messages/{first['id']}", headers={**AUTH, "Accept": "application/xml"}
    )
    assert raw.content == mine[0].payload
    assert raw.headers["content-type"].startswith("application/xml")
    assert client.put(f"/v1/mailbox/messages/{first['id']}/read", headers=AUTH).status_code == 204
    assert client.put(f"/v1/mailbox/messages/{first['id']}/read", headers=AUTH).status_code == 204
    after = client.get("/v1/mailbox/messages", params={"receiverHerId": GP}, headers=AUTH)
    assert [i["id"] for i in after.json()["messages"]] == [items[1]["id"]]
    read = client.get(f"/v1/mailbox/messages/{first['id']}", headers=AUTH).json()
    assert read["readAt"] is not None  # still fetchable until the retention ends


def test_another_receivers_mailbox_is_problem_detail_not_data(
    store: MailboxStore, client: TestClient
) -> None:
    theirs = routed(OTHER, 1)
    store.put(theirs)
    their_id = mailbox_id(theirs.hub_message_id, OTHER)
    forbidden = client.get("/v1/mailbox/messages", params={"receiverHerId": OTHER}, headers=AUTH)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert forbidden.json()["type"] == "urn:meldingshub:problem:mailbox-forbidden"
    for response in (
        client.get(f"/v1/mailbox/messages/{their_id}", headers=AUTH),
        client.put(f"/v1/mailbox/messages/{their_id}/read", headers=AUTH),
        client.get(f"/v1/mailbox/messages/{uuid.uuid4()}", headers=AUTH),
    ):
        assert response.status_code == 404  # the same answer as for an id that does not exist
        assert response.json()["status"] == 404
        assert theirs.payload.decode() not in response.text
    assert store.get(their_id) is not None and store.get(their_id).entry.read_at is None  # type: ignore[union-attr]
    unauthenticated = client.get("/v1/mailbox/messages")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    wrong = client.get("/v1/mailbox/messages", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_sqlite_mailbox_rows_are_synced_to_disk_on_every_commit(tmp_path: Path) -> None:
    """Delivery commits its Kafka offset right after the row: the row must survive a power cut
    (``synchronous=FULL``; NORMAL in WAL mode may lose the last commits)."""
    store = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    assert store.put(routed(9_300_001, 1))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
