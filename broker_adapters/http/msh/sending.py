"""What ``POST /Messages`` and ``POST /Messages/{id}/apprec/{herId}`` hand to the ingress gate.

``POST /Messages`` carries the document base64-encoded; the gate screens it and
writes it durably like every other ingress. For an AppRec the client sends only
status and errors: the hub reads the original from the receiver's mailbox and
writes the AppRec (:func:`routing.receipts.receiver_apprec`) in the version that
answers it. Its id is derived from the mailbox id and the answering HER-id, so
a second answer to the same message is the same AppRec to the router (a
re-send it drops): an AppRec is final.
"""

import base64
import binascii
import re
from datetime import UTC, datetime
from uuid import UUID, uuid5

from addressregister.index import RegisterIndex
from addressregister.model import PartyKind
from broker_adapters.delivery.mailbox_store import MailboxMessage
from broker_adapters.http.msh.errors import MshError, bad_request
from broker_adapters.http.msh.models import AppRecStatus, PostAppRecRequest, PostMessageRequest
from broker_adapters.ingress.base import Accepted, Outcome, RefusalReason
from routing.receipts import Original, Party, ReceiptError, receiver_apprec
from schemas.catalogue import default_catalogue
from schemas.envelope import Envelope, read_envelope
from schemas.errors import MessageRejectedError
from schemas.parties import PartyRef
from schemas.vocabulary import AppRecErrorCode
from schemas.xmlparse import ParseLimits, parse_message

XML_TYPES = frozenset({"application/xml", "text/xml"})
SOURCE_SYSTEM_MAX = 100
"""Longest ``nhn-source-system`` kept; longer values are cut."""
_UNSAFE = re.compile(r"[^A-Za-z0-9 .,:;_()/+@#-]")
_DETAILS_MAX = 200
_CODES = {code.value: code for code in AppRecErrorCode}


def source_system(header: str) -> str:
    """``nhn-source-system`` reduced to a short, plain-ASCII name and version (logs, events)."""
    cleaned = " ".join(_UNSAFE.sub("", header).split())[:SOURCE_SYSTEM_MAX].strip()
    if not cleaned:
        raise bad_request(
            "Model validation error occurred",
            "nhn-source-system: give the client system's name and version, e.g. 'EPJ, v1.2'",
        )
    return cleaned


def document_of(request: PostMessageRequest, max_bytes: int) -> bytes:
    """The business document's bytes; 400 for anything the description does not allow."""
    problems = []
    if request.content_type.split(";", 1)[0].strip().lower() not in XML_TYPES:
        problems.append("contentType: the business document must be application/xml")
    if request.content_transfer_encoding.strip().lower() != "base64":
        problems.append("contentTransferEncoding: the business document must be base64")
    if request.receiver_her_ids_subset:
        problems.append(
            "receiverHerIdsSubset: not supported; the hub sends to every receiver the document "
            "names (leave it out or empty)"
        )
    if len(request.business_document) > max_bytes * 4 // 3 + 4:
        problems.append(f"businessDocument: larger than the limit of {max_bytes} bytes")
    if problems:
        raise bad_request("Model validation error occurred", *problems)
    try:
        return base64.b64decode(request.business_document, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(
            "Model validation error occurred", "businessDocument: not valid base64"
        ) from None


def accepted_id(outcome: Outcome, retry_after_s: int) -> UUID:
    """The hub message id of an accepted submission; the gate's refusal as an MSH error."""
    if isinstance(outcome, Accepted):
        return outcome.hub_message_id
    reason = outcome.reason
    if reason is RefusalReason.SENDER_NOT_ALLOWED:
        raise MshError(403, f"Not authorized to send this message: {outcome.detail}")
    if reason is RefusalReason.BROKER_UNAVAILABLE:
        raise MshError(503, outcome.detail, headers={"Retry-After": str(retry_after_s)})
    raise bad_request(outcome.detail)


def _errors(request: PostAppRecRequest) -> tuple[ReceiptError, ...]:
    items = request.app_rec_error_list or []
    if request.app_rec_status is AppRecStatus.REJECTED and not items:
        raise bad_request(
            "Model validation error occurred",
            "appRecErrorList: give at least one error when appRecStatus is Rejected",
        )
    found = []
    for number, item in enumerate(items):
        code = _CODES.get(item.error_code or "")
        if code is None:
            raise bad_request(
                "Model validation error occurred",
                f"appRecErrorList[{number}].errorCode: not a code of kodeverk 8221 "
                "(E10, E20, ..., X99)",
            )
        details = " ".join((item.details or "").split())[:_DETAILS_MAX] or None
        found.append(ReceiptError(code, details))
    return tuple(found)


def _party(register: RegisterIndex, ref: PartyRef) -> Party:
    assert ref.organisation_her_id is not None

    def name(her_id: int | None) -> str | None:
        party = register.get(her_id) if her_id is not None else None
        return party.name if party is not None else None

    return Party(
        organisation_her_id=ref.organisation_her_id,
        organisation_name=name(ref.organisation_her_id),
        department_her_id=ref.service_her_id,
        department_name=name(ref.service_her_id),
        person_her_id=ref.person_her_id,
        person_name=name(ref.person_her_id),
    )


def _answering(register: RegisterIndex, her_id: int) -> PartyRef:
    """The AppRec's sender: the answering party under its organisation."""
    organisation = register.organisation_of(her_id) or her_id
    if organisation == her_id:
        return PartyRef(organisation_her_id=her_id)
    party = register.get(her_id)
    if party is not None and party.kind is PartyKind.PERSON:
        return PartyRef(organisation_her_id=organisation, person_her_id=her_id)
    return PartyRef(organisation_her_id=organisation, service_her_id=her_id)


def original_envelope(found: MailboxMessage, limits: ParseLimits) -> Envelope:
    """The envelope of a stored message (it was read and routed once, so it parses)."""
    try:
        return read_envelope(parse_message(found.payload, limits), default_catalogue()).envelope
    except MessageRejectedError:
        raise bad_request("the stored message cannot be read") from None


def apprec_document(
    found: MailboxMessage,
    original: Envelope,
    answering_her_id: int,
    request: PostAppRecRequest,
    register: RegisterIndex,
    now: datetime | None = None,
) -> bytes:
    """The AppRec answering ``found`` from ``answering_her_id``, as the sender will get it."""
    version = original.apprec_version
    if (
        version is None
        or not original.msg_id
        or not original.message_type
        or original.sender.organisation_her_id is None
    ):
        raise bad_request(
            "this message cannot be answered with an AppRec "
            "(an AppRec, or a message type without one)"
        )
    errors = _errors(request)
    moment = now or datetime.now(UTC)
    issued = original.gen_date if original.gen_date else moment.isoformat(timespec="seconds")
    return receiver_apprec(
        version=version,
        # One AppRec per message and receiving organisation, whoever in it answers: a second
        # answer (say, from a service after its organisation) is the same AppRec, and the
        # router drops it as a re-send. An AppRec is final.
        apprec_id=uuid5(found.entry.id, "apprec"),
        generated_at=moment,
        status=request.app_rec_status.code,
        errors=errors,
        sender=_party(register, _answering(register, answering_her_id)),
        receiver=_party(register, original.sender),
        original=Original(original.message_type, issued, original.msg_id),
    )
