"""Envelope values as operators may see them: from a closed set, of a checked shape, or not.

Logs, events, rejected records and command output show what the hub owns. A
document's own values (its type code, ids, dates, namespace) are shown only when
the catalogue knows them or they have the shape the standard prescribes, so a
sender's free text in one of them never travels further than the message.
"""

import re

from schemas.envelope import Envelope
from schemas.records import UNKNOWN_MESSAGE_TYPE
from schemas.vocabulary import AppRecErrorCode

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?")
_ORGANISATION_NUMBER = re.compile(r"\d{9}")
_APPREC_ERRORS = frozenset(code.value for code in AppRecErrorCode)
_APPREC_STATUS = frozenset({"1", "2", "3"})


def message_type(envelope: Envelope | None) -> str:
    """The type code when the catalogue classified it, else ``UNKNOWN``."""
    if envelope is None or not envelope.message_type or envelope.unknown_reason is not None:
        return UNKNOWN_MESSAGE_TYPE
    return envelope.message_type


def message_id(value: str | None) -> str | None:
    """A MsgId (or AppRec id) when it is a UUID, as the standards require, else ``None``."""
    return value if value is not None and _UUID.fullmatch(value) else None


def date(value: str | None) -> str | None:
    """A GenDate when it has the shape of an XML date or dateTime, else ``None``."""
    return value if value is not None and _DATE.fullmatch(value) else None


def namespace(envelope: Envelope) -> str | None:
    """The payload namespace when the catalogue knows it, else ``None``."""
    return envelope.payload_namespace if envelope.unknown_reason is None else None


def apprec_status(value: str | None) -> str | None:
    """An AppRec status code of kodeverk 8258, else ``None``."""
    return value if value in _APPREC_STATUS else None


def apprec_errors(values: tuple[str, ...]) -> list[str]:
    """The AppRec error codes of kodeverk 8221; others count as ``X99``."""
    return [value if value in _APPREC_ERRORS else AppRecErrorCode.X99.value for value in values]


def organisation_number(value: str | None) -> str | None:
    """An organisation number (ENH) when it has its nine digits, else ``None``."""
    return value if value is not None and _ORGANISATION_NUMBER.fullmatch(value) else None
