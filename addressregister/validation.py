"""The one place that decides whether a party is valid.

Rules follow section 4 of the domain facts: HER-ids are positive running
numbers, organisation numbers have 9 digits and a mod-11 check digit (weights
3,2,7,6,5,4,3,2), municipalities are 4-digit kommunenumre, business types come
from kodeverk 9040 and service codes from the code lists per business type.
Personal identity numbers (fødselsnummer, D-nummer: 11 digits) are never accepted
into the register, in any field, and an error never repeats the offending value.
"""

import functools
import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from addressregister.errors import FieldError, PartyValidationError
from addressregister.kinds import EndpointKind, PartyKind

if TYPE_CHECKING:
    from addressregister.model import CommunicationParty, Endpoint, MessageProfile

__all__ = [
    "MAX_HER_ID",
    "SERVICE_CODE_LISTS",
    "FieldError",
    "PartyValidationError",
    "check_party",
    "normalise_version",
    "organisation_number_valid",
]

MAX_HER_ID = 999_999_999
"""HER-ids are running numbers; nine digits leave room and can never be mistaken for an
11-digit personal identity number."""

SERVICE_CODE_LISTS = frozenset(
    {"8655", "8658", "8659", "8660", "8661", "8663", "8664", "8668", "8669"}
)
"""Code lists for services by business type (8663 kommunal helse og omsorg, 8668
spesialisthelsetjenesten, 8660 bildediagnostikk/lab, 8664 apotek/bandasjist, 8669
tannhelse, 8658 statlig forvaltning, 8659 registre, ...)."""

_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_PERSONAL_NUMBER = re.compile(r"\d{11}")
_DIGITS = re.compile(r"\d+")
_MESSAGE_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_VERSION = re.compile(r"[0-9][0-9A-Za-z.\-]{0,19}")
_VERSION_IN_TEXT = re.compile(r"v?(\d+\.\d+)")
_BUSINESS_TYPE = re.compile(r"1\d\d")
_SERVICE_CODE = re.compile(r"[0-9A-Za-z]{1,10}")
_THUMBPRINT = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")
_QUEUE = re.compile(r"[A-Za-z0-9._:-]{1,255}")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_MAILBOX = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DIRECTORY = re.compile(r"[A-Za-z0-9._-]{1,128}(/[A-Za-z0-9._-]{1,128}){0,7}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME = 200


def organisation_number_valid(number: str) -> bool:
    """Nine digits whose last is the mod-11 check digit of the first eight."""
    if len(number) != 9 or not number.isascii() or not number.isdigit():
        return False
    remainder = sum(int(d) * w for d, w in zip(number[:8], _ORG_WEIGHTS, strict=True)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    return check != 10 and check == int(number[8])


def normalise_version(version: str) -> str:
    """The comparable form of a message version: ``v1.6 2012-04-01`` and ``1.6`` are ``1.6``.

    MIGversion strings carry a date after the number; profiles list bare numbers.
    """
    text = version.strip()
    match = _VERSION_IN_TEXT.match(text)
    return match.group(1) if match else text


def check_party(party: "CommunicationParty") -> tuple[FieldError, ...]:
    """Every rule a party breaks, as field errors (empty when valid)."""

    errors: list[FieldError] = []
    add = errors.append

    if not _is_her_id(party.her_id):
        add(FieldError("herId", f"must be an integer from 1 to {MAX_HER_ID}"))
    kind: object = party.kind  # dataclasses do not enforce types; input may be anything
    if not isinstance(kind, PartyKind):
        add(FieldError("kind", "must be one of " + ", ".join(k.value for k in PartyKind)))
    _check_name(party.name, errors)
    if party.parent_her_id is not None:
        if not _is_her_id(party.parent_her_id):
            add(FieldError("parentHerId", f"must be an integer from 1 to {MAX_HER_ID}"))
        elif party.parent_her_id == party.her_id:
            add(FieldError("parentHerId", "a party cannot be its own parent"))
    elif party.kind in (PartyKind.PERSON, PartyKind.SERVICE, PartyKind.DEPARTMENT):
        add(FieldError("parentHerId", f"a {party.kind} must have a parent party"))
    if party.organisation_number is not None:
        if _PERSONAL_NUMBER.search(party.organisation_number):
            add(FieldError("organisationNumber", _PERSONAL_NUMBER_TEXT))
        elif not organisation_number_valid(party.organisation_number):
            add(
                FieldError(
                    "organisationNumber",
                    f"{party.organisation_number!r} is not 9 digits with a valid mod-11 "
                    "check digit",
                )
            )
    if party.municipality is not None and not _municipality_valid(party.municipality):
        add(FieldError("municipality", "must be a 4-digit kommunenummer (county 01-56)"))
    if party.business_type is not None and not _BUSINESS_TYPE.fullmatch(party.business_type):
        add(FieldError("businessType", "must be a 3-digit code of kodeverk 9040 (101-199)"))
    _check_service(party, errors)
    _check_hpr(party, errors)
    active: object = party.active
    if not isinstance(active, bool):
        add(FieldError("active", "must be true or false"))
    _check_validity(party.valid_from, party.valid_to, errors)
    _check_profile("receives", party.receives, errors)
    _check_profile("sends", party.sends, errors)
    if party.endpoint is not None:
        _check_endpoint(party.endpoint, errors)
    _check_thumbprints(party.certificate_thumbprints, errors)
    return tuple(errors)


_PERSONAL_NUMBER_TEXT = (
    "contains an 11-digit number; personal identity numbers are never accepted into the register"
)


def _is_her_id(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_HER_ID


def _check_name(name: object, errors: list[FieldError]) -> None:
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError("name", "must not be empty"))
    elif len(name) > _MAX_NAME:
        errors.append(FieldError("name", f"must be at most {_MAX_NAME} characters"))
    elif _CONTROL.search(name):
        errors.append(FieldError("name", "must not contain control characters"))
    elif _PERSONAL_NUMBER.search(name):
        errors.append(FieldError("name", _PERSONAL_NUMBER_TEXT))


def _municipality_valid(value: str) -> bool:
    return len(value) == 4 and value.isascii() and value.isdigit() and 1 <= int(value[:2]) <= 56


def _check_service(party: "CommunicationParty", errors: list[FieldError]) -> None:
    code, code_list = party.service_code, party.service_code_list
    if code is None and code_list is None:
        return
    if code is None or not _SERVICE_CODE.fullmatch(code):
        errors.append(FieldError("serviceCode", "must be 1-10 letters or digits"))
    if code_list is None or code_list not in SERVICE_CODE_LISTS:
        errors.append(
            FieldError(
                "serviceCodeList",
                "must name the code list of the service code: "
                + ", ".join(sorted(SERVICE_CODE_LISTS)),
            )
        )


def _check_hpr(party: "CommunicationParty", errors: list[FieldError]) -> None:

    hpr = party.hpr_number
    if hpr is None:
        return
    if party.kind is not PartyKind.PERSON:
        errors.append(FieldError("hprNumber", "only persons have an HPR number"))
    elif _PERSONAL_NUMBER.search(hpr):
        errors.append(FieldError("hprNumber", _PERSONAL_NUMBER_TEXT))
    elif not (1 <= len(hpr) <= 9 and hpr.isascii() and hpr.isdigit()):
        errors.append(FieldError("hprNumber", "must be 1-9 digits"))


def _check_validity(
    valid_from: datetime | None, valid_to: datetime | None, errors: list[FieldError]
) -> None:
    for name, value in (("validFrom", valid_from), ("validTo", valid_to)):
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            errors.append(FieldError(name, "must be a date-time with a time zone"))
            return
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        errors.append(FieldError("validTo", "must be after validFrom"))


def _check_profile(
    name: str, profile: "tuple[MessageProfile, ...]", errors: list[FieldError]
) -> None:
    errors.extend(FieldError(name, message) for message in _profile_problems(profile))


@functools.lru_cache(maxsize=4096)
def _profile_problems(profile: "tuple[MessageProfile, ...]") -> tuple[str, ...]:
    """Problems of a profile; cached because most parties share a few profiles."""
    problems: list[str] = []
    seen: set[str] = set()
    for entry in profile:
        if not isinstance(entry.message_type, str) or not _MESSAGE_TYPE.fullmatch(
            entry.message_type
        ):
            problems.append("message types are codes of kodeverk 8279 (A-Z, 0-9, _)")
            continue
        if entry.message_type in seen:
            problems.append(f"{entry.message_type} is listed twice")
        seen.add(entry.message_type)
        for version in entry.versions:
            if not _VERSION.fullmatch(version) or normalise_version(version) != version:
                problems.append(f"version of {entry.message_type} must be a bare number like 1.6")
    return tuple(problems)


def _check_endpoint(endpoint: "Endpoint", errors: list[FieldError]) -> None:

    address = endpoint.address
    kind: object = endpoint.kind
    if not isinstance(kind, EndpointKind):
        errors.append(FieldError("endpoint.kind", "must be amqp, mailbox, webhook, kafka or file"))
        return
    if _PERSONAL_NUMBER.search(address):
        errors.append(FieldError("endpoint.address", _PERSONAL_NUMBER_TEXT))
        return
    problem = {
        EndpointKind.AMQP: None if _QUEUE.fullmatch(address) else "must be an AMQP queue name",
        EndpointKind.KAFKA: None if _TOPIC.fullmatch(address) else "must be a Kafka topic name",
        EndpointKind.MAILBOX: None if _MAILBOX.fullmatch(address) else "must be a mailbox name",
        EndpointKind.FILE: _file_problem(address),
        EndpointKind.WEBHOOK: webhook_address_problem(address),
    }[endpoint.kind]
    if problem:
        errors.append(FieldError("endpoint.address", problem))


def _file_problem(address: str) -> str | None:
    if not _DIRECTORY.fullmatch(address) or any(p in (".", "..") for p in address.split("/")):
        return "must be a relative directory without '.' or '..' parts"
    return None


def webhook_address_problem(address: str) -> str | None:
    """Why the hub will not POST to ``address`` (https only, http only to loopback)."""
    try:
        url = urlsplit(address)
        host = url.hostname
        _ = url.port
    except ValueError:
        return "must be an https:// URL"
    if not host or url.username or url.password:
        return "must be an https:// URL with a host and without credentials"
    if url.scheme == "https":
        return None
    if url.scheme == "http" and _loopback(host):
        return None  # local test receivers
    return "must be an https:// URL (http only to a loopback host)"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_thumbprints(thumbprints: Iterable[str], errors: list[FieldError]) -> None:
    for thumbprint in thumbprints:
        if not isinstance(thumbprint, str) or not _THUMBPRINT.fullmatch(thumbprint):
            errors.append(
                FieldError(
                    "certificateThumbprints",
                    "each must be an upper-case SHA-1 (40) or SHA-256 (64) hex digest",
                )
            )
            return
