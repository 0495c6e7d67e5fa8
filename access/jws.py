"""Signed JWTs in compact form: strict reading of header and claims, signature checks by joserfc.

Header and claims are read here, before any key is chosen, with limits on every
part and a JSON reader that refuses duplicate names and non-finite numbers, so two
readers can never see two different tokens. The signature itself is joserfc's
(RFC 7515/7518): only the configured asymmetric algorithms, and the key type must
fit the algorithm, so a public key can never be used as an HMAC secret.
"""

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwk, jws
from joserfc.errors import JoseError
from joserfc.jwk import Key

MAX_HEADER_SEGMENT = 4096
"""Base64 characters of a protected header: an RSA-4096 ``jwk`` fits with room to spare."""
MAX_PAYLOAD_SEGMENT = 16384
"""Base64 characters of the claims; HelseID access tokens are a few kilobytes."""
MAX_SIGNATURE_SEGMENT = 1024
"""Base64 characters of a signature: RSA up to 4096 bits, ECDSA up to P-521."""
MIN_RSA_BITS = 2048

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_ASYMMETRIC = frozenset({"RSA", "EC"})
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}
_KEY_METADATA = ("kid", "alg", "use")


class JwsError(ValueError):
    """The text is not a JWS this module accepts; the message is ours, never the input."""


@dataclass(frozen=True, slots=True)
class SignedJwt:
    """A compact JWS read but not yet verified: its header, its claims and its text."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    compact: str = field(repr=False)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise JwsError("duplicate member name")
        result[name] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise JwsError(f"non-finite number {name}")


def _json_object(segment: str, what: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise JwsError(f"the {what} is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise JwsError(f"the {what} is not a JSON object")
    return value


def read_compact(text: str) -> SignedJwt:
    """Header and claims of a compact JWS, after checking its shape and sizes."""
    if _COMPACT.fullmatch(text) is None:
        raise JwsError("not a compact JWS (three base64url parts)")
    header_part, payload_part, signature_part = text.split(".")
    if (
        len(header_part) > MAX_HEADER_SEGMENT
        or len(payload_part) > MAX_PAYLOAD_SEGMENT
        or len(signature_part) > MAX_SIGNATURE_SEGMENT
    ):
        raise JwsError("a part of the JWS is too large")
    header = _json_object(header_part, "header")
    if "crit" in header or "b64" in header:
        raise JwsError("critical or unencoded-payload headers are not supported")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise JwsError("the header has no algorithm")
    return SignedJwt(header, _json_object(payload_part, "claims"), text)


def registry(algorithms: Iterable[str]) -> jws.JWSRegistry:
    """A joserfc registry that allows exactly ``algorithms`` and our part sizes."""
    reg = jws.JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
    reg.max_header_length = MAX_HEADER_SEGMENT
    reg.max_payload_length = MAX_PAYLOAD_SEGMENT
    reg.max_signature_length = MAX_SIGNATURE_SEGMENT
    return reg


def signature_valid(token: SignedJwt, key: Key, reg: jws.JWSRegistry) -> bool:
    """True when ``key`` signed ``token`` with one of the registry's algorithms."""
    try:
        jws.deserialize_compact(token.compact, key, registry=reg)
    except (JoseError, ValueError, TypeError):
        return False
    return True


def public_key(value: object) -> Key:
    """An RSA (at least 2048 bits) or EC public key from a JWK object.

    Only the public members are read; a JWK carrying a private part is refused
    (RFC 9449 forbids it in a proof, and an issuer publishing one is misconfigured).
    """
    if not isinstance(value, dict):
        raise JwsError("the key is not a JSON object")
    kty = value.get("kty")
    if kty not in _ASYMMETRIC:
        raise JwsError("the key is not an RSA or EC key")
    if "d" in value or "p" in value or "q" in value:
        raise JwsError("the key has a private part")
    members = {name: value[name] for name in _PUBLIC_MEMBERS[kty] if name in value}
    if len(members) != len(_PUBLIC_MEMBERS[kty]) or not all(
        isinstance(v, str) for v in members.values()
    ):
        raise JwsError("the key lacks its public members")
    metadata = {name: value[name] for name in _KEY_METADATA if name in value}
    if not all(isinstance(v, str) for v in metadata.values()):
        raise JwsError("the key's kid, alg or use is not text")
    try:
        key = jwk.import_key({"kty": kty, **members, **metadata})
    except (JoseError, ValueError, TypeError) as exc:
        raise JwsError("the key cannot be read") from exc
    if key.is_private:
        raise JwsError("the key has a private part")
    if kty == "RSA" and getattr(key.public_key, "key_size", 0) < MIN_RSA_BITS:
        raise JwsError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    return key
