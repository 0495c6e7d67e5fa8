"""The outcome vocabulary shared by Prometheus labels, the statistics store and the export.

An event type alone is not quite the statistic people ask for: a routed copy is
not a message sent, and an AppRec routed back is counted by its status. This
closed set refines :class:`schemas.vocabulary.EventType` once, here, so that a
``/metrics`` label, a store row and an export column always mean the same thing.
"""

import re
from enum import StrEnum

from schemas.vocabulary import AppRecErrorCode, AppRecStatus, EventType


class Outcome(StrEnum):
    """What one event counts as."""

    ACCEPTED = "accepted"
    ROUTED = "routed"
    """Routed to the message's receiver (one per message sent)."""
    ROUTED_COPY = "routed_copy"
    """Routed to a copy receiver (``OtherReceiver``)."""
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    APPREC_OK = "apprec_ok"
    APPREC_REJECTED = "apprec_rejected"
    APPREC_OK_ERROR_IN_PART = "apprec_ok_error_in_part"
    APPREC_UNKNOWN = "apprec_unknown"
    """An AppRec routed back whose status the event does not carry."""
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERY_RETRIED = "delivery_retried"


_APPREC_OUTCOME = {
    AppRecStatus.OK.value: Outcome.APPREC_OK,
    AppRecStatus.REJECTED.value: Outcome.APPREC_REJECTED,
    AppRecStatus.OK_ERROR_IN_MESSAGE_PART.value: Outcome.APPREC_OK_ERROR_IN_PART,
}

_DIRECT = {
    EventType.ACCEPTED: Outcome.ACCEPTED,
    EventType.REJECTED: Outcome.REJECTED,
    EventType.DUPLICATE: Outcome.DUPLICATE,
    EventType.DELIVERED: Outcome.DELIVERED,
    EventType.DELIVERY_FAILED: Outcome.DELIVERY_FAILED,
    EventType.DELIVERY_RETRIED: Outcome.DELIVERY_RETRIED,
}


def outcome_of(event_type: EventType, *, is_copy: bool, apprec_status: str | None) -> Outcome:
    """The outcome an event counts as (see the table in ``hubstats/README.md``)."""
    if event_type is EventType.ROUTED:
        return Outcome.ROUTED_COPY if is_copy else Outcome.ROUTED
    if event_type is EventType.APPREC_ROUTED:
        return _APPREC_OUTCOME.get(apprec_status or "", Outcome.APPREC_UNKNOWN)
    return _DIRECT[event_type]


UNKNOWN_MESSAGE_TYPE = "UNKNOWN"
"""A message type the router could not classify (the router's own word for it)."""

_MESSAGE_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
_REASON_CODES = frozenset(code.value for code in AppRecErrorCode)


def clean_message_type(message_type: str) -> str:
    """``message_type`` if it has the shape of an 8279 code, else ``UNKNOWN``: no free text."""
    return message_type if _MESSAGE_TYPE.match(message_type) else UNKNOWN_MESSAGE_TYPE


def clean_reason_code(reason_code: str | None) -> str | None:
    """An AppRec error code from kodeverk 8221; anything else counts as ``X99`` (other error)."""
    if reason_code is None:
        return None
    return reason_code if reason_code in _REASON_CODES else AppRecErrorCode.X99.value


class RefusalReason(StrEnum):
    """Why ingress refused a message; the closed set of the ``reason`` metric label."""

    UNAUTHENTICATED = "unauthenticated"
    """No credentials, or credentials the hub does not know."""
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    BAD_REQUEST = "bad_request"
    """The transport envelope is malformed (e.g. JSON without a base64 ``businessDocument``)."""
    TOO_LARGE = "too_large"
    NOT_XML = "not_xml"
    """Empty, not well-formed, or refused by the hardened parser (DOCTYPE, depth)."""
    SENDER_NOT_ALLOWED = "sender_not_allowed"
    """The document's sender HER-id is not one the principal may send for (spoofing)."""
    BROKER_UNAVAILABLE = "broker_unavailable"
    """Kafka did not durably take the write; the sender may retry (transient)."""
    BUSY = "busy"
    """The process holds as many request bodies at once as its byte budget allows; the
    sender retries after ``Retry-After`` (transient)."""
    UNPROCESSABLE = "unprocessable"
    """Screening failed unexpectedly, or the broker refused the record: sending it again
    unchanged fails the same way (permanent)."""
