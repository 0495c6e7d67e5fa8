"""A HelseID access token's claims: validity, audience, scope, key binding, and who the caller is.

The token's signature is checked before this module sees its claims
(:mod:`access.helseid`). Claim names and shapes are HelseID's:

* ``helseid://claims/client/claims/orgnr_parent``: the organisation (legal entity)
  the client acts for, 9 digits; required.
* ``helseid://claims/client/claims/orgnr_child``: a sub-unit of it; optional.
* ``nhn:msh/client/claims/herid``: the MSH API's own client claim, narrowing the
  HER-ids: ``"0"`` means every HER-id of the organisation, ``"123-456"`` only those.
  Absent means no narrowing. A list of such values is read as their union.
* ``scope``: a list of scopes or one space-separated string; ``aud``: a string or list.
* ``cnf.jkt``: the RFC 7638 thumbprint of the key the token is bound to (RFC 9449 6.1).
"""

import math
import re
from dataclasses import dataclass
from typing import Any

from access.errors import Refusal
from schemas.identifiers import parse_her_id

ORGNR_PARENT = "helseid://claims/client/claims/orgnr_parent"
ORGNR_CHILD = "helseid://claims/client/claims/orgnr_child"
HERID_CLAIM = "nhn:msh/client/claims/herid"
CLIENT_ID = "client_id"

MAX_CLIENT_ID_CHARS = 256
MAX_HERID_VALUES = 50
MAX_HERID_CHARS = 1000
_ORG_NUMBER = re.compile(r"[0-9]{9}")
_HERID_LIST = re.compile(r"[0-9]{1,9}(-[0-9]{1,9})*")
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")


class ClaimsError(Exception):
    """The token's claims were refused; ``status`` is 401 or 403, ``detail`` is ours."""

    def __init__(self, status: int, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class HelseIdIdentity:
    """Who a verified HelseID caller is. Holds no token text; safe to log."""

    org_number: str
    """``orgnr_parent``: the organisation the client acts for (9 digits)."""
    child_org_number: str | None
    """``orgnr_child``: the sub-unit, when the token names one."""
    her_ids: frozenset[int] | None
    """The HER-ids the ``herid`` claim narrows the caller to; None when it does not
    narrow (claim absent or ``"0"``): every HER-id of the organisation and its sub-units."""
    client_id: str
    """The HelseID client, for logs and events (not for access decisions)."""
    key_thumbprint: str
    """RFC 7638 thumbprint of the client's DPoP key."""
    expires_at: float
    """The token's ``exp`` (seconds since the epoch)."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _strings(value: object, limit: int) -> list[str] | None:
    """A string or a list of strings (at most ``limit``) as a list; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and len(value) <= limit and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def check_validity(claims: dict[str, Any], *, issuer: str, now: float, leeway_s: float) -> float:
    """``iss`` and the time claims; returns ``exp``. 401 for anything wrong."""
    if claims.get("iss") != issuer:
        raise ClaimsError(401, Refusal.WRONG_ISSUER, "the token is not from the trusted issuer")
    exp = _number(claims.get("exp"))
    if exp is None:
        raise ClaimsError(401, Refusal.INVALID_CLAIMS, "the token has no valid exp")
    if now > exp + leeway_s:
        raise ClaimsError(401, Refusal.EXPIRED_TOKEN, "the token has expired")
    if "nbf" in claims:
        nbf = _number(claims["nbf"])
        if nbf is None:
            raise ClaimsError(401, Refusal.INVALID_CLAIMS, "the token's nbf is not a number")
        if now < nbf - leeway_s:
            raise ClaimsError(401, Refusal.EXPIRED_TOKEN, "the token is not valid yet")
    return exp


def check_audience_and_scope(claims: dict[str, Any], *, audience: str, scope: str) -> None:
    """The token is for this API and grants its scope; 403 otherwise."""
    audiences = _strings(claims.get("aud"), 20)
    if audiences is None or audience not in audiences:
        raise ClaimsError(403, Refusal.WRONG_AUDIENCE, f"the token is not issued for {audience}")
    raw_scope = claims.get("scope")
    scopes = raw_scope.split() if isinstance(raw_scope, str) else _strings(raw_scope, 100)
    if scopes is None or scope not in scopes:
        raise ClaimsError(403, Refusal.INSUFFICIENT_SCOPE, f"the token lacks the scope {scope}")


def bound_key(claims: dict[str, Any]) -> str:
    """The ``cnf.jkt`` the token is bound to; 401 when it has none (a plain bearer token)."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if not isinstance(jkt, str) or not jkt:
        raise ClaimsError(401, Refusal.KEY_BINDING, "the token is not bound to a DPoP key")
    return jkt


def _org_number(value: object) -> str | None:
    if isinstance(value, str) and _ORG_NUMBER.fullmatch(value):
        return value
    return None


def parse_herid_claim(value: object) -> frozenset[int] | None:
    """The HER-ids an ``herid`` claim allows; None for no narrowing. Raises ValueError."""
    if value is None:
        return None
    values = _strings(value, MAX_HERID_VALUES)
    if not values or sum(len(v) for v in values) > MAX_HERID_CHARS:
        raise ValueError("herid claim is not a string or a short list of strings")
    if values == ["0"] or all(v == "0" for v in values):
        return None
    her_ids: set[int] = set()
    for text in values:
        if _HERID_LIST.fullmatch(text) is None:
            raise ValueError("herid claim value is not HER-ids separated by '-'")
        for part in text.split("-"):
            her_id = parse_her_id(part)
            if her_id is None:
                raise ValueError("herid claim names an invalid HER-id")
            her_ids.add(her_id)
    return frozenset(her_ids)


def read_identity(claims: dict[str, Any], *, key_thumbprint: str, exp: float) -> HelseIdIdentity:
    """The caller's identity from a verified token's claims; 401 when a claim is missing or bad."""
    org_number = _org_number(claims.get(ORGNR_PARENT))
    if org_number is None:
        raise ClaimsError(401, Refusal.INVALID_CLAIMS, "the token has no valid orgnr_parent")
    child = claims.get(ORGNR_CHILD)
    child_org_number = None if child is None else _org_number(child)
    if child is not None and child_org_number is None:
        raise ClaimsError(401, Refusal.INVALID_CLAIMS, "the token's orgnr_child is not 9 digits")
    try:
        her_ids = parse_herid_claim(claims.get(HERID_CLAIM))
    except ValueError as exc:
        raise ClaimsError(401, Refusal.INVALID_CLAIMS, f"the token's {exc}") from None
    client_id = claims.get(CLIENT_ID)
    if (
        not isinstance(client_id, str)
        or len(client_id) > MAX_CLIENT_ID_CHARS
        or _PRINTABLE_ASCII.fullmatch(client_id) is None
    ):
        raise ClaimsError(401, Refusal.INVALID_CLAIMS, "the token has no valid client_id")
    return HelseIdIdentity(
        org_number=org_number,
        child_org_number=child_org_number,
        her_ids=her_ids,
        client_id=client_id,
        key_thumbprint=key_thumbprint,
        expires_at=exp,
    )
