"""DPoP proofs (RFC 9449 section 4.3): one request, one fresh proof signed by the token's key.

A proof is a JWT of type ``dpop+jwt`` whose header carries the client's public
key and whose claims bind it to this request (``htm`` the method, ``htu`` the URL
without query and fragment), to this moment (``iat``, ``jti``) and to this access
token (``ath``). This module checks one proof on its own; the server nonce, the
``jti`` store and the token's ``cnf.jkt`` are the verifier's (:mod:`access.helseid`).
"""

import base64
import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from joserfc import jws

from access.errors import Refusal
from access.jws import JwsError, public_key, read_compact, signature_valid

PROOF_TYPE = "dpop+jwt"
MAX_JTI_CHARS = 256
MAX_HTU_CHARS = 4096
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ProofError(Exception):
    """The proof was refused; ``reason`` and ``detail`` are ours, never the proof's text."""

    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Proof:
    """What a valid proof tells: its key's RFC 7638 thumbprint, its ``jti`` and its nonce."""

    key_thumbprint: str
    jti: str
    nonce: str | None


def _percent(match: re.Match[str]) -> str:
    byte = int(match.group(1), 16)
    return chr(byte) if byte in _UNRESERVED else f"%{match.group(1).upper()}"


def normalize_htu(uri: str) -> str | None:
    """``uri`` without query and fragment, normalised (RFC 3986 6.2.2 and 6.2.3) for comparison.

    Scheme and host in lower case, the default port dropped, an empty path as ``/``,
    percent-encodings in upper case and unreserved characters decoded. None when
    ``uri`` is not an absolute http(s) URL.
    """
    if len(uri) > MAX_HTU_CHARS or not uri.isascii():
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    authority = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        authority += f":{port}"
    path = _PERCENT.sub(_percent, parts.path) or "/"
    return f"{scheme}://{authority}{path}"


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the token's ASCII text, unpadded."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def check_proof(
    text: str,
    *,
    method: str,
    htu: str,
    access_token: str,
    registry: jws.JWSRegistry,
    now: float,
    max_age_s: float,
    leeway_s: float,
) -> Proof:
    """The checked proof for a request to ``method htu`` presenting ``access_token``.

    ``htu`` is the expected URL, already normalised by :func:`normalize_htu`.
    Raises :class:`ProofError` naming the first thing that is wrong.
    """
    try:
        proof = read_compact(text)
    except JwsError as exc:
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof is not a valid JWS") from exc
    typ = proof.header.get("typ")
    if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof's typ is not dpop+jwt")
    if proof.header["alg"] not in (registry.allowed or ()):
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof's algorithm is not allowed")
    try:
        key = public_key(proof.header.get("jwk"))
    except JwsError as exc:
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof's jwk is not a public key") from exc
    if not signature_valid(proof, key, registry):
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof's signature does not verify")

    claims = proof.claims
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof has no valid jti")
    if claims.get("htm") != method:
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof's htm is not this request's method")
    claimed_htu = claims.get("htu")
    if not isinstance(claimed_htu, str) or normalize_htu(claimed_htu) != htu:
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof's htu is not this request's URL")
    iat = _number(claims.get("iat"))
    if iat is None:
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof has no valid iat")
    if iat > now + leeway_s or iat < now - max_age_s - leeway_s:
        raise ProofError(Refusal.STALE_PROOF, "the DPoP proof's iat is outside the accepted window")
    ath = claims.get("ath")
    if not isinstance(ath, str) or not hmac.compare_digest(
        ath.encode("utf-8", "replace"), access_token_hash(access_token).encode("ascii")
    ):
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof's ath does not match the token")
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise ProofError(Refusal.INVALID_PROOF, "the DPoP proof's nonce is not text")
    return Proof(key.thumbprint(), jti, nonce)
