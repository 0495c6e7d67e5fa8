"""Typed settings of HelseID credentials (``MELDINGSHUB_ACCESS__HELSEID__*``).

HelseID is off until an issuer is named; then exactly one source of the issuer's
signing keys (a JWKS file or URL) is required, so a half-configured hub stops at
start instead of refusing every caller at run time.
"""

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SignatureAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"
]
"""The closed list of JWS algorithms a token or proof may use: asymmetric only, never
``none``, never HMAC (a shared secret would let anyone holding it mint tokens)."""

DEFAULT_ALGORITHMS: tuple[SignatureAlgorithm, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
)

_LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: str, what: str) -> str:
    """An absolute ``https://`` URL (plain ``http://`` only to loopback), no credentials."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"{what} must be an absolute https:// URL")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError(f"{what} must use https:// (plain http:// only to loopback)")
    if parts.username or parts.password:
        raise ValueError(f"{what} must not carry credentials")
    if parts.fragment:
        raise ValueError(f"{what} must not have a fragment")
    return value


class HelseIdSettings(BaseModel):
    """Which HelseID issuer the hub trusts, and how strictly DPoP proofs are checked."""

    model_config = ConfigDict(extra="forbid")

    issuer: str | None = Field(default=None, min_length=1, max_length=512)
    """The ``iss`` every access token must carry, e.g. ``https://helseid-sts.nhn.no``;
    none: HelseID credentials are not accepted."""
    jwks_file: Path | None = None
    """A JSON Web Key Set file with the issuer's signing keys (offline deployments, tests)."""
    jwks_url: str | None = Field(default=None, max_length=2048)
    """The issuer's JWKS endpoint (``https://``), fetched when first needed and cached."""
    audience: str = Field(default="nhn:msh", min_length=1, max_length=256)
    """The ``aud`` the MSH API's tokens are issued for."""
    required_scope: str = Field(default="nhn:msh/api", min_length=1, max_length=256)
    """The scope every token must include."""
    algorithms: tuple[SignatureAlgorithm, ...] = Field(default=DEFAULT_ALGORITHMS, min_length=1)
    """JWS algorithms accepted for both access tokens and DPoP proofs (closed list)."""
    leeway_s: float = Field(default=30.0, ge=0, le=300)
    """Clock skew tolerated on ``exp``, ``nbf`` and a proof's ``iat``."""
    proof_max_age_s: float = Field(default=60.0, gt=0, le=600)
    """How old a DPoP proof's ``iat`` may be (plus the leeway)."""
    replay_window_s: float = Field(default=300.0, gt=0, le=3600)
    """How long a proof's ``jti`` is remembered; must cover the proof's whole validity."""
    replay_max_entries: int = Field(default=200_000, ge=100, le=5_000_000)
    """Memory bound of the ``jti`` store; when full of live entries new proofs wait (503)."""
    nonce_required: bool = True
    """Demand a server nonce in every proof (RFC 9449 section 9)."""
    nonce_secret: SecretStr | None = None
    """Key of the stateless nonces; give every replica the same one. None: a random key
    per process (fine for one replica; with several, clients retry until they meet the
    replica that issued their nonce)."""
    nonce_lifetime_s: float = Field(default=300.0, ge=10, le=3600)
    """A nonce is valid in its time window and the next one."""
    public_url: str | None = Field(default=None, max_length=2048)
    """The API's base URL as clients reach it (behind a proxy), e.g.
    ``https://msh.example.no``; a proof's ``htu`` is compared with it plus the request
    path. None: the URL the request arrived on."""
    jwks_timeout_s: float = Field(default=5.0, gt=0, le=60)
    """Deadline of one JWKS fetch, the whole answer included."""
    jwks_max_age_s: float = Field(default=3600.0, ge=60, le=86_400)
    """Cached keys are fetched again after this long (keys the issuer retires stop working)."""
    jwks_refresh_interval_s: float = Field(default=60.0, ge=0, le=3600)
    """An unknown ``kid`` triggers a fetch at most this often (a stream of forged kids
    cannot turn the hub into a load generator against the issuer)."""

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, "jwks_url")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _check_url(value, "public_url")
        if urlsplit(value).query:
            raise ValueError("public_url must not have a query")
        return value

    @field_validator("algorithms")
    @classmethod
    def _unique(cls, value: tuple[SignatureAlgorithm, ...]) -> tuple[SignatureAlgorithm, ...]:
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _consistent(self) -> "HelseIdSettings":
        if self.issuer is not None and (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("with an issuer, give exactly one of jwks_file and jwks_url")
        if self.replay_window_s < self.proof_max_age_s + 2 * self.leeway_s:
            raise ValueError(
                "replay_window_s must be at least proof_max_age_s + 2 * leeway_s, "
                "or a replayed proof could outlive its jti"
            )
        return self

    @property
    def enabled(self) -> bool:
        """True when an issuer is configured."""
        return self.issuer is not None
