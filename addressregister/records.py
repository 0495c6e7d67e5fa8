"""The external shape of a party: the camelCase mapping of register files and the HTTP API.

Reading collects every problem of a record (wrong types here, broken rules from
:mod:`addressregister.validation`) so that an import can list them all at once.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from addressregister.errors import FieldError, PartyValidationError
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
    unchecked_party,
)
from addressregister.validation import check_party
from schemas.identifiers import parse_her_id

FIELDS = (
    "herId",
    "kind",
    "name",
    "parentHerId",
    "organisationNumber",
    "municipality",
    "businessType",
    "serviceCode",
    "serviceCodeList",
    "hprNumber",
    "active",
    "validFrom",
    "validTo",
    "receives",
    "sends",
    "endpoint",
    "certificateThumbprints",
)
"""Record keys in file order; ``category`` may also appear (exports) and is ignored on input."""

_DERIVED = frozenset({"category"})
_OPTIONAL_TEXT = {
    "organisationNumber": "organisation_number",
    "municipality": "municipality",
    "businessType": "business_type",
    "serviceCode": "service_code",
    "serviceCodeList": "service_code_list",
    "hprNumber": "hpr_number",
}


def party_to_record(party: CommunicationParty, *, with_category: bool = False) -> dict[str, Any]:
    """The record of ``party``; empty optional fields are left out."""
    record: dict[str, Any] = {"herId": party.her_id, "kind": party.kind.value, "name": party.name}
    if party.parent_her_id is not None:
        record["parentHerId"] = party.parent_her_id
    for key, attribute in _OPTIONAL_TEXT.items():
        value = getattr(party, attribute)
        if value is not None:
            record[key] = value
    record["active"] = party.active
    if party.valid_from is not None:
        record["validFrom"] = _iso(party.valid_from)
    if party.valid_to is not None:
        record["validTo"] = _iso(party.valid_to)
    if party.receives:
        record["receives"] = profile_to_record(party.receives)
    if party.sends:
        record["sends"] = profile_to_record(party.sends)
    if party.endpoint is not None:
        record["endpoint"] = {"kind": party.endpoint.kind.value, "address": party.endpoint.address}
    if party.certificate_thumbprints:
        record["certificateThumbprints"] = list(party.certificate_thumbprints)
    if with_category:
        record["category"] = party.category.value
    return record


def profile_to_record(profile: tuple[MessageProfile, ...]) -> dict[str, list[str]]:
    """``{"DIALOG_FORESPORSEL": ["1.0", "1.1"], "ERM1": []}`` (empty list: every version)."""
    return {entry.message_type: list(entry.versions) for entry in profile}


def party_from_record(record: Mapping[str, Any]) -> CommunicationParty:
    """Read one record; raise :class:`PartyValidationError` naming every wrong field."""
    errors: list[FieldError] = []
    for key in record:
        if key not in FIELDS and key not in _DERIVED:
            errors.append(FieldError(str(key), "unknown field"))
    values: dict[str, Any] = {
        "her_id": _her_id(record, "herId", errors, required=True),
        "kind": _kind(record, errors),
        "name": _text(record, "name", errors) or "",
        "parent_her_id": _her_id(record, "parentHerId", errors, required=False),
        "active": _bool(record, "active", errors),
        "valid_from": _datetime(record, "validFrom", errors),
        "valid_to": _datetime(record, "validTo", errors),
        "receives": _profile(record, "receives", errors),
        "sends": _profile(record, "sends", errors),
        "endpoint": _endpoint(record, errors),
        "certificate_thumbprints": _thumbprints(record, errors),
    }
    for key, attribute in _OPTIONAL_TEXT.items():
        values[attribute] = _text(record, key, errors)
    if errors:
        # Also report the rules the well-formed fields break, so one pass lists everything.
        wrong = {e.field.split(".")[0] for e in errors}
        if "kind" in wrong:
            wrong |= {"parentHerId", "hprNumber"}  # their rules depend on the kind
        probe = unchecked_party(**values)
        errors.extend(e for e in check_party(probe) if e.field.split(".")[0] not in wrong)
        raise PartyValidationError(errors)
    return CommunicationParty(**values)


def _present(record: Mapping[str, Any], key: str) -> Any:
    value = record.get(key)
    return None if value is None or value == "" else value


def _her_id(
    record: Mapping[str, Any], key: str, errors: list[FieldError], *, required: bool
) -> int | None:
    value = _present(record, key)
    if value is None:
        if required:
            errors.append(FieldError(key, "is required"))
        return None
    if isinstance(value, str):
        value = parse_her_id(value)
    if type(value) is not int:
        errors.append(FieldError(key, "must be an integer"))
        return None
    return value


def _kind(record: Mapping[str, Any], errors: list[FieldError]) -> PartyKind | None:
    value = _present(record, "kind")
    try:
        return PartyKind(value)
    except ValueError:
        errors.append(FieldError("kind", "must be one of " + ", ".join(k.value for k in PartyKind)))
        return None


def _text(record: Mapping[str, Any], key: str, errors: list[FieldError]) -> str | None:
    value = _present(record, key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # codes written as JSON numbers (businessType 101)
    if not isinstance(value, str):
        errors.append(FieldError(key, "must be a string"))
        return None
    return value.strip()


def _bool(record: Mapping[str, Any], key: str, errors: list[FieldError]) -> bool:
    value = _present(record, key)
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    errors.append(FieldError(key, "must be true or false"))
    return True


def _datetime(record: Mapping[str, Any], key: str, errors: list[FieldError]) -> datetime | None:
    value = _present(record, key)
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        errors.append(FieldError(key, "must be an ISO 8601 date or date-time"))
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        errors.append(FieldError(key, "must be an ISO 8601 date or date-time"))
        return None
    if parsed.tzinfo is None:
        errors.append(FieldError(key, "a date-time must have a time zone (Z or +01:00)"))
        return None
    return parsed


def _profile(
    record: Mapping[str, Any], key: str, errors: list[FieldError]
) -> tuple[MessageProfile, ...]:
    value = _present(record, key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = parse_profile_text(value)
        if value is None:
            errors.append(FieldError(key, "must look like TYPE=1.0|1.1;OTHER_TYPE"))
            return ()
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, list | tuple) and all(isinstance(x, str) for x in v)
        for k, v in value.items()
    ):
        errors.append(FieldError(key, "must map message types to lists of versions"))
        return ()
    return tuple(MessageProfile(k, tuple(v)) for k, v in value.items())


def parse_profile_text(text: str) -> dict[str, list[str]] | None:
    """The CSV form ``TYPE=1.0|1.1;OTHER`` as a record value, or None when malformed."""
    result: dict[str, list[str]] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, versions = item.partition("=")
        if not name.strip() or (sep and not versions.strip()):
            return None
        result[name.strip()] = [v.strip() for v in versions.split("|")] if sep else []
    return result


def profile_text(profile: Mapping[str, list[str]]) -> str:
    """The CSV form of a profile record (inverse of :func:`parse_profile_text`)."""
    return ";".join(f"{t}={'|'.join(v)}" if v else t for t, v in profile.items())


def _endpoint(record: Mapping[str, Any], errors: list[FieldError]) -> Endpoint | None:
    value = _present(record, "endpoint")
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("address"), str):
        errors.append(FieldError("endpoint", "must have a kind and an address"))
        return None
    try:
        kind = EndpointKind(str(value.get("kind")))
    except ValueError:
        errors.append(FieldError("endpoint.kind", "must be amqp, mailbox, webhook, kafka or file"))
        return None
    return Endpoint(kind, value["address"].strip())


def _thumbprints(record: Mapping[str, Any], errors: list[FieldError]) -> tuple[str, ...]:
    value = _present(record, "certificateThumbprints")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.replace(";", " ").split() if part]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors.append(FieldError("certificateThumbprints", "must be a list of hex digests"))
        return ()
    return tuple(v.strip().upper().replace(":", "") for v in value)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
