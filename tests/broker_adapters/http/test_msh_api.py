"""The MSH API v2 routes against a real mailbox and status store (SQLite) and a recording gate:
authentication, headers, ErrorMessage bodies, HER-id authorisation, the mailbox operations,
status per receiver, and the AppRec the hub writes for a receiver."""

import base64
import dataclasses
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree

from access.principals import Principal, Principals, Role
from access.principals_file import PrincipalsFile
from access.tokens import token_hash
from addressregister.index import RegisterIndex
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.http.msh.caller import BearerAuthenticator, authenticators
from broker_adapters.http.msh.errors import MshError
from broker_adapters.http.msh.routes import MshDeps, msh_router
from broker_adapters.http.msh.sending import source_system
from broker_adapters.ingress.base import Accepted, Outcome, RefusalReason, Refused, Submission
from broker_adapters.ingress.budget import ByteBudget
from broker_adapters.ingress.settings import IngressSettings
from hubstats.store import StatisticsStore
from schemas.reader import MessageReader
from schemas.records import MessageEvent
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode, AppRecStatus, Category, EventType, Family
from schemas.xmlparse import ParseLimits
from tests.broker_adapters.delivery.support import routed
from tests.broker_adapters.http.support import (
    COPY_ORG,
    OTHER_ORG,
    RECEIVER_ORG,
    RECEIVER_SERVICE,
    SAMPLE,
    SENDER_ORG,
    client_headers,
    msh_register,
)
from tests.support.events import event
from tests.support.shared import OFFICIAL_XSD

SENDER, RECEIVER, COPY, OPERATOR = "sender-tok", "receiver-tok", "copy-tok", "operator-tok"
BOTH = "both-tok"


class RecordingGate:
    """Takes every submission (or answers ``outcome``) and keeps it for the test to look at."""

    settings = IngressSettings()
    limits = ParseLimits()
    bodies = ByteBudget(settings.in_flight_bytes)

    def __init__(self) -> None:
        self.submissions: list[Submission] = []
        self.outcome: Outcome | None = None

    def submit(self, submission: Submission) -> Outcome:
        self.submissions.append(submission)
        return self.outcome or Accepted(uuid.uuid4(), 0, 0)

    def count_received(self, adapter: str) -> None:
        return None

    def count_refused(self, adapter: str, refused: Refused) -> None:
        return None


@dataclasses.dataclass
class Api:
    client: TestClient
    gate: RecordingGate
    mailbox: MailboxStore
    store: StatisticsStore
    register: RegisterIndex

    def get(self, path: str, token: str = RECEIVER, **params: object) -> httpx.Response:
        # starlette types TestClient against httpx2 (not installed), so its calls are Any here
        response: httpx.Response = self.client.get(
            path, headers=client_headers(token), params=params
        )
        return response


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    dsn = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    store = StatisticsStore.open(dsn)
    mailbox = MailboxStore.open(dsn)
    register = msh_register()
    principals = Principals(
        [
            Principal(
                "sender", frozenset({SENDER_ORG}), token_hashes=frozenset({token_hash(SENDER)})
            ),
            Principal(
                "receiver",
                frozenset({RECEIVER_ORG}),
                token_hashes=frozenset({token_hash(RECEIVER)}),
            ),
            Principal("copy", frozenset({COPY_ORG}), token_hashes=frozenset({token_hash(COPY)})),
            Principal(
                "both",
                frozenset({RECEIVER_ORG, COPY_ORG}),
                token_hashes=frozenset({token_hash(BOTH)}),
            ),
            Principal(
                "drift",
                frozenset({OTHER_ORG}),
                roles=frozenset({Role.OPERATOR}),
                token_hashes=frozenset({token_hash(OPERATOR)}),
            ),
        ]
    )
    gate = RecordingGate()
    app = FastAPI()
    app.include_router(
        msh_router(
            MshDeps(
                gate=gate,
                authenticators=authenticators(
                    BearerAuthenticator(PrincipalsFile.fixed(principals))
                ),
                mailbox=mailbox,
                register=lambda: register,
                store=store,
            )
        )
    )
    yield Api(TestClient(app), gate, mailbox, store, register)
    store.close()
    mailbox.engine.dispose()


def deliver(api: Api, receiver: int = RECEIVER_ORG) -> uuid.UUID:
    """The sample in ``receiver``'s mailbox; its MSH id."""
    message = dataclasses.replace(
        routed(receiver, 1, sender=SENDER_ORG, payload=SAMPLE.read_bytes()),
        family=Family.DIALOG,
        msg_id="msg-" + uuid.uuid4().hex,
    )
    api.mailbox.put(message)
    (entry,) = [e for e in api.mailbox.unread([receiver], 100) if e.msg_id == message.msg_id]
    return entry.id


def assert_error(response: httpx.Response, status: int) -> dict[str, object]:
    """An ErrorMessage body with ``status``; the body."""
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert set(body) <= {"error", "errorCode", "validationErrors", "stackTrace", "requestId"}
    uuid.UUID(str(body["requestId"]))
    assert body["stackTrace"] is None
    return body


# -- authentication and headers ---------------------------------------------------------------


def test_without_a_known_token_the_answer_is_401_with_a_challenge(api: Api) -> None:
    headers = client_headers(SENDER)
    for authorization in (None, "Bearer nope", "Basic c2VjcmV0", "Bearer "):
        sent = {k: v for k, v in headers.items() if k != "Authorization"}
        if authorization:
            sent["Authorization"] = authorization
        response = api.client.get(f"/Messages/{uuid.uuid4()}/status", headers=sent)
        assert_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_api_version_and_source_system_headers_are_required(api: Api) -> None:
    url = "/Messages?ReceiverHerIds=62"
    for missing in ("api-version", "nhn-source-system"):
        headers = {k: v for k, v in client_headers(RECEIVER).items() if k != missing}
        body = assert_error(api.client.get(url, headers=headers), 400)
        assert body["errorCode"] == 1000
        errors = body["validationErrors"]
        assert isinstance(errors, list)
        assert any(missing in str(e) for e in errors)
    wrong = {**client_headers(RECEIVER), "api-version": "1"}
    assert "version 2" in str(assert_error(api.client.get(url, headers=wrong), 400))


def test_the_source_system_is_cut_to_a_short_plain_name() -> None:
    assert source_system("  EPJ\u202e Front,\n v18.0.8 <script>") == "EPJ Front, v18.0.8 script"
    assert len(source_system("x" * 5000)) == 100
    with pytest.raises(MshError) as refused:
        source_system("\u202e\u200b")
    assert refused.value.status == 400
    assert "nhn-source-system" in str(refused.value.validation_errors)


def test_a_principal_without_the_role_is_refused(api: Api) -> None:
    response = api.get("/Messages", OPERATOR, ReceiverHerIds=OTHER_ORG)
    assert "receiver role" in str(assert_error(response, 403)["error"])


# -- sending ----------------------------------------------------------------------------------


def post(api: Api, body: object, token: str = SENDER) -> httpx.Response:
    response: httpx.Response = api.client.post(
        "/Messages", headers=client_headers(token), json=body
    )
    return response


def message_body(raw: bytes) -> dict[str, object]:
    return {
        "businessDocument": base64.b64encode(raw).decode(),
        "contentType": "application/xml",
        "contentTransferEncoding": "base64",
    }


def test_a_posted_document_goes_through_the_gate_as_the_caller(api: Api) -> None:
    raw = SAMPLE.read_bytes()
    response = post(api, message_body(raw))
    assert response.status_code == 201, response.text
    hub_id = uuid.UUID(response.json())
    assert response.headers["Location"].endswith(f"/Messages/{hub_id}/status")
    (submission,) = api.gate.submissions
    assert submission.raw == raw
    assert submission.principal.name == "sender"
    assert submission.principal.her_ids == {SENDER_ORG}
    assert submission.source_system == "Testklient, v1.0"
    # Just accepted: the sender may ask, nobody has answered yet; others may not ask.
    status = api.get(f"/Messages/{hub_id}/status", SENDER)
    assert status.status_code == 200 and status.json() == []
    assert_error(api.get(f"/Messages/{hub_id}/status", RECEIVER), 403)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"businessDocument": "not base64!"}, "base64"),
        ({"contentType": "application/pdf"}, "contentType"),
        ({"contentTransferEncoding": "8bit"}, "contentTransferEncoding"),
        ({"receiverHerIdsSubset": [62]}, "receiverHerIdsSubset"),
        ({"unknownField": 1}, "unknownField"),
        ({"businessDocument": ""}, "businessDocument"),
    ],
)
def test_a_malformed_post_is_400_and_never_reaches_the_gate(
    api: Api, change: dict[str, object], complaint: str
) -> None:
    body = {**message_body(SAMPLE.read_bytes()), **change}
    assert complaint in str(assert_error(post(api, body), 400)["validationErrors"])
    assert api.gate.submissions == []


def test_gate_refusals_answer_in_the_api_own_terms(api: Api) -> None:
    api.gate.outcome = Refused(RefusalReason.SENDER_NOT_ALLOWED, "sender 62 is not yours")
    assert "Not authorized" in str(assert_error(post(api, message_body(b"<x/>")), 403)["error"])
    api.gate.outcome = Refused(RefusalReason.BROKER_UNAVAILABLE, "try again")
    response = post(api, message_body(b"<x/>"))
    assert_error(response, 503)
    assert response.headers["Retry-After"] == "5"
    api.gate.outcome = Refused(RefusalReason.NOT_XML, "not an XML message: empty")
    assert "not an XML" in str(assert_error(post(api, message_body(b"x")), 400)["error"])


# -- receiving --------------------------------------------------------------------------------


def test_the_receiver_lists_fetches_and_marks_read(api: Api) -> None:
    first, second = deliver(api), deliver(api)
    listed = api.get("/Messages", ReceiverHerIds=RECEIVER_ORG)
    assert listed.json() == [
        {"id": str(first), "receiverHerId": RECEIVER_ORG},
        {"id": str(second), "receiverHerId": RECEIVER_ORG},
    ]
    newest = api.get("/Messages", ReceiverHerIds=RECEIVER_ORG, OrderBy="Descending")
    assert [m["id"] for m in newest.json()] == [str(second), str(first)]
    full = api.get("/Messages", ReceiverHerIds=RECEIVER_ORG, IncludeMetadata="true").json()
    assert full[0]["senderHerId"] == SENDER_ORG and full[0]["isAppRec"] is False
    one = api.get(f"/Messages/{first}").json()
    # GenDate is local time without an offset; the API gives it with Oslo's offset.
    assert one["businessDocumentGenDate"] == "2018-01-19T09:40:47+01:00"
    assert one["businessDocumentId"] == full[0]["businessDocumentId"]
    document = api.get(f"/Messages/{first}/business-document").json()
    assert base64.b64decode(document["businessDocument"]) == SAMPLE.read_bytes()
    assert document["contentTransferEncoding"] == "base64"
    put = api.client.put(f"/Messages/{first}/read/{RECEIVER_ORG}", headers=client_headers(RECEIVER))
    assert put.status_code == 204
    left = api.get("/Messages", ReceiverHerIds=RECEIVER_ORG).json()
    assert [m["id"] for m in left] == [str(second)]


def test_a_receiver_sees_only_the_her_ids_it_may_read(api: Api) -> None:
    mine = deliver(api)
    body = assert_error(api.get("/Messages", COPY, ReceiverHerIds=[COPY_ORG, RECEIVER_ORG]), 403)
    assert body["error"] == f"Not authorized for HerId(s): {RECEIVER_ORG}"
    for path in (f"/Messages/{mine}", f"/Messages/{mine}/business-document"):
        assert_error(api.get(path, COPY), 403)
    put = api.client.put(f"/Messages/{mine}/read/{RECEIVER_ORG}", headers=client_headers(COPY))
    assert_error(put, 403)
    # A party below one of the caller's HER-ids is the caller's too.
    assert api.get("/Messages", ReceiverHerIds=RECEIVER_SERVICE).status_code == 200


@pytest.mark.parametrize("her_id", ["12a", "-62", "0", "1234567890", "٦٢", "6_2", " 62x"])
def test_malformed_her_ids_are_400(api: Api, her_id: str) -> None:
    assert_error(api.get("/Messages", ReceiverHerIds=her_id), 400)
    put = api.client.put(
        f"/Messages/{uuid.uuid4()}/read/{her_id}", headers=client_headers(RECEIVER)
    )
    assert put.status_code in (400, 404)  # a path the router cannot even match is 404
    if put.status_code == 400:
        assert_error(put, 400)


def test_unknown_and_malformed_ids(api: Api) -> None:
    assert_error(api.get(f"/Messages/{uuid.uuid4()}"), 404)
    assert_error(api.get(f"/Messages/{uuid.uuid4()}/status", SENDER), 404)
    assert_error(api.get("/Messages/not-a-uuid"), 400)
    assert_error(api.get("/Messages/not-a-uuid/apprec", SENDER), 400)
    other = deliver(api)
    put = api.client.put(
        f"/Messages/{other}/read/{RECEIVER_SERVICE}", headers=client_headers(RECEIVER)
    )
    assert_error(put, 404)


# -- status and AppRecs -----------------------------------------------------------------------


def _events(hub_id: uuid.UUID, msg_id: str) -> list[MessageEvent]:
    def one(kind: EventType, receiver: int, is_copy: bool = False) -> MessageEvent:
        made = event(
            kind,
            hub_id,
            family=Family.DIALOG,
            sender=(SENDER_ORG, Category.HELSEFORETAK),
            receiver=(receiver, Category.HELSEFORETAK),
            msg_id=msg_id,
            is_copy=is_copy,
        )
        return dataclasses.replace(made, principal="sender")

    answer = event(
        EventType.APPREC_ROUTED,
        uuid.uuid4(),
        family=Family.APPREC,
        message_type="APPREC",
        sender=(RECEIVER_ORG, Category.HELSEFORETAK),
        receiver=(SENDER_ORG, Category.HELSEFORETAK),
        original_msg_id=msg_id,
        apprec_status=AppRecStatus.REJECTED,
        reason_code="E21",
    )
    return [
        one(EventType.ACCEPTED, RECEIVER_ORG),
        one(EventType.ROUTED, RECEIVER_ORG),
        one(EventType.ROUTED, COPY_ORG, is_copy=True),
        one(EventType.DELIVERED, RECEIVER_ORG),
        one(EventType.DELIVERED, RECEIVER_ORG),  # a second attempt's report changes nothing
        answer,
    ]


def test_status_and_apprec_per_receiver_and_copy_receiver(api: Api) -> None:
    hub_id = uuid.uuid4()
    events = _events(hub_id, "msg-1")
    api.store.apply(events[:4])
    api.store.apply(events)  # replayed: the first four again, then the rest
    status = api.get(f"/Messages/{hub_id}/status", SENDER).json()
    assert status == [
        {
            "receiverHerId": RECEIVER_ORG,
            "transportDeliveryState": "Acknowledged",
            "appRecStatus": "Rejected",
        },
        {"receiverHerId": COPY_ORG, "transportDeliveryState": "Unconfirmed", "appRecStatus": None},
    ]
    apprecs = api.get(f"/Messages/{hub_id}/apprec", SENDER).json()
    assert apprecs[0]["appRecStatus"] == "Rejected"
    assert apprecs[0]["appRecErrorList"][0]["errorCode"] == "E21"
    assert apprecs[1] == {"receiverHerId": COPY_ORG, "appRecStatus": None, "appRecErrorList": None}
    assert_error(api.get(f"/Messages/{hub_id}/status", RECEIVER), 403)
    failed = event(
        EventType.DELIVERY_FAILED, hub_id, receiver=(COPY_ORG, Category.KOMMUNE), is_copy=True
    )
    api.store.apply([failed])
    copy = api.get(f"/Messages/{hub_id}/apprec", SENDER).json()[1]
    assert copy["appRecStatus"] == "Rejected" and copy["appRecErrorList"][0]["errorCode"] == "X99"


def _answer(
    api: Api, message: uuid.UUID, her_id: int, body: Mapping[str, object], token: str = RECEIVER
) -> httpx.Response:
    response: httpx.Response = api.client.post(
        f"/Messages/{message}/apprec/{her_id}", headers=client_headers(token), json=body
    )
    return response


@pytest.fixture(scope="module")
def official_reader() -> MessageReader:
    if not OFFICIAL_XSD.is_dir():
        pytest.skip(f"official schemas not found at {OFFICIAL_XSD}")
    return MessageReader(SchemaSettings(official_dir=OFFICIAL_XSD))


def test_the_hub_writes_a_valid_apprec_for_the_receiver(
    api: Api, official_reader: MessageReader
) -> None:
    message = deliver(api)
    body = {
        "appRecStatus": "Rejected",
        "appRecErrorList": [{"errorCode": "E21", "details": "Ukjent   tjeneste"}],
    }
    response = _answer(api, message, RECEIVER_SERVICE, body)
    assert response.status_code == 201, response.text
    (submission,) = api.gate.submissions
    assert submission.principal.name == "receiver"
    read = official_reader.read(submission.raw)
    assert read.accepted, read.problem
    envelope = read.envelope
    assert envelope is not None and envelope.family is Family.APPREC
    assert envelope.version == "1.1"  # Dialogmelding 1.1 is answered by AppRec 1.1
    assert envelope.apprec_status is AppRecStatus.REJECTED
    assert envelope.apprec_error_codes == ("E21",)
    assert envelope.sender.organisation_her_id == RECEIVER_ORG
    assert envelope.sender.service_her_id == RECEIVER_SERVICE
    assert envelope.receiver.organisation_her_id == SENDER_ORG
    original = official_reader.read(SAMPLE.read_bytes()).envelope
    assert original is not None and envelope.original_msg_id == original.msg_id
    assert b"Ukjent tjeneste" in submission.raw
    # As EPJ systems show it: the code's Norwegian name, the receiver's words in OT, and
    # GenDate in Norwegian time with its offset.
    error = etree.fromstring(submission.raw).find("{*}Error")
    assert error is not None and error.get("DN") == AppRecErrorCode.E21.norwegian_name
    assert error.get("OT") == "Ukjent tjeneste"
    gen_date = etree.fromstring(submission.raw).findtext("{*}GenDate") or ""
    assert gen_date[-6] in "+-" and gen_date[-3] == ":", gen_date
    # Answering again, even as another party of the organisation, writes the same AppRec
    # id: the router drops it as a re-send (an AppRec is final).
    _answer(api, message, RECEIVER_ORG, {"appRecStatus": "Ok"})  # its organisation, now
    ids = [etree.fromstring(s.raw).findtext("{*}Id") for s in api.gate.submissions]
    assert ids[0] == ids[1]


@pytest.mark.parametrize(
    ("her_id", "body", "status"),
    [
        (RECEIVER_ORG, {"appRecStatus": "Rejected"}, 400),
        (
            RECEIVER_ORG,
            {"appRecStatus": "Rejected", "appRecErrorList": [{"errorCode": "Z1", "details": ""}]},
            400,
        ),
        (RECEIVER_ORG, {"appRecStatus": "Maybe"}, 400),
        (COPY_ORG, {"appRecStatus": "Ok"}, 403),
    ],
)
def test_bad_apprec_requests(api: Api, her_id: int, body: dict[str, object], status: int) -> None:
    assert_error(_answer(api, deliver(api), her_id, body), status)
    assert api.gate.submissions == []


def test_only_a_party_of_the_receiving_organisation_answers(api: Api) -> None:
    message = deliver(api)
    # BOTH may read both organisations, but the message went to RECEIVER_ORG only.
    body = assert_error(_answer(api, message, COPY_ORG, {"appRecStatus": "Ok"}, BOTH), 400)
    assert "appRecSenderHerId" in str(body["validationErrors"])
    assert _answer(api, message, RECEIVER_ORG, {"appRecStatus": "Ok"}, BOTH).status_code == 201


def test_a_stored_document_that_no_longer_reads_still_has_its_metadata(api: Api) -> None:
    message = dataclasses.replace(
        routed(RECEIVER_ORG, 1, sender=SENDER_ORG, payload=b"<unclosed"), msg_id="odd-1"
    )
    api.mailbox.put(message)
    (entry,) = api.mailbox.unread([RECEIVER_ORG], 10, msg_id="odd-1")
    one = api.get(f"/Messages/{entry.id}").json()
    assert one["businessDocumentId"] == "odd-1" and "businessDocumentGenDate" not in one
    body = assert_error(_answer(api, entry.id, RECEIVER_ORG, {"appRecStatus": "Ok"}), 400)
    assert "cannot be read" in str(body["error"])
