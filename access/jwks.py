"""The issuer's signing keys (a JSON Web Key Set from a file or a URL), cached and refreshed.

Keys are loaded when first needed (nothing connects at import or construction),
kept for ``jwks_max_age_s``, and fetched again early when a token names a ``kid``
the cache does not know (the issuer rotated its keys), but at most once every
``jwks_refresh_interval_s``: forged kids cannot make the hub hammer the issuer. A
failed fetch keeps the last good keys; with none at all, verification answers 503.
"""

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import structlog
from joserfc.jwk import Key

from access.helseid_settings import HelseIdSettings
from access.jws import JwsError, public_key

log = structlog.get_logger(__name__)

MAX_JWKS_BYTES = 256 * 1024
"""A key set is a few kilobytes; anything much larger is not one."""
MAX_KEYS = 100

Loader = Callable[[], bytes]
"""Returns the JWKS document's bytes; raises :class:`JwksUnavailable` when it cannot."""


class JwksUnavailable(Exception):  # noqa: N818  (a state, not a programming error)
    """The key set could not be loaded; the message names the source, never key material."""


class UnknownKey(LookupError):  # noqa: N818
    """No usable key of the issuer has the token's ``kid``."""


def file_loader(path: Path) -> Loader:
    """Read the key set from ``path`` on every load (an operator may replace the file)."""

    def load() -> bytes:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_JWKS_BYTES + 1)
        except OSError as exc:
            raise JwksUnavailable(f"cannot read JWKS file {path}: {exc.strerror}") from None
        if len(data) > MAX_JWKS_BYTES:
            raise JwksUnavailable(f"JWKS file {path} is larger than {MAX_JWKS_BYTES} bytes")
        return data

    return load


def url_loader(url: str, timeout_s: float) -> Loader:
    """Fetch the key set from ``url``: no redirects, ``timeout_s`` for the whole answer."""

    def load() -> bytes:
        deadline = time.monotonic() + timeout_s
        body = bytearray()
        try:
            with (
                httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
                client.stream("GET", url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise JwksUnavailable(f"JWKS URL {url} answered {response.status_code}")
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksUnavailable(f"JWKS from {url} is larger than {MAX_JWKS_BYTES}")
                    if time.monotonic() > deadline:
                        raise JwksUnavailable(f"JWKS URL {url} took longer than {timeout_s} s")
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"cannot fetch JWKS URL {url}: {type(exc).__name__}") from None
        return bytes(body)

    return load


def parse_jwks(data: bytes) -> dict[str | None, Key]:
    """The usable signing keys of a JWKS document, by ``kid``.

    Encryption keys and key types other than RSA and EC are skipped; a key without
    ``kid`` is kept only when it is the set's only key (stored under ``None``).
    """
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise JwksUnavailable("the JWKS is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or len(entries) > MAX_KEYS:
        raise JwksUnavailable(f"the JWKS has no 'keys' list of at most {MAX_KEYS} keys")
    keys: dict[str | None, Key] = {}
    skipped = 0
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            skipped += 1
            continue
        try:
            key = public_key(entry)
        except JwsError:
            skipped += 1
            continue
        keys[key.kid] = key
    if None in keys and len(keys) > 1:
        del keys[None]
        skipped += 1
    if skipped:
        log.info("helseid.jwks_keys_skipped", skipped=skipped)
    if not keys:
        raise JwksUnavailable("the JWKS has no usable RSA or EC signing key")
    return keys


class IssuerKeys:
    """The issuer's current signing keys, loaded lazily and refreshed by the rules above."""

    def __init__(
        self,
        loader: Loader,
        *,
        max_age_s: float,
        refresh_interval_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = loader
        self._max_age_s = max_age_s
        self._refresh_interval_s = refresh_interval_s
        self._monotonic = monotonic
        self._keys: Mapping[str | None, Key] | None = None
        self._loaded_at = 0.0
        self._last_attempt: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: HelseIdSettings, monotonic: Callable[[], float] = time.monotonic
    ) -> "IssuerKeys":
        """Keys from the settings' JWKS file or URL."""
        if settings.jwks_file is not None:
            loader = file_loader(settings.jwks_file)
        elif settings.jwks_url is not None:
            loader = url_loader(settings.jwks_url, settings.jwks_timeout_s)
        else:
            raise ValueError("HelseID settings name no JWKS file or URL")
        return cls(
            loader,
            max_age_s=settings.jwks_max_age_s,
            refresh_interval_s=settings.jwks_refresh_interval_s,
            monotonic=monotonic,
        )

    def refresh(self) -> bool:
        """Load the key set now (e.g. at start); False when it failed (logged)."""
        with self._lock:
            return self._try_load(self._monotonic())

    def key_for(self, kid: str | None) -> Key:
        """The signing key named ``kid``.

        Raises :class:`JwksUnavailable` when no key set was ever loaded, and
        :class:`UnknownKey` when the loaded one has no such key.
        """
        with self._lock:
            now = self._monotonic()
            if (self._keys is None or now - self._loaded_at >= self._max_age_s) and (
                self._may_attempt(now)
            ):
                self._try_load(now)
            if self._keys is None:
                raise JwksUnavailable("the issuer's keys are not available")
            key = self._lookup(kid)
            if key is None and self._may_attempt(now):
                self._try_load(now)
                key = self._lookup(kid)
            if key is None:
                raise UnknownKey("no issuer key has this kid")
            return key

    def _lookup(self, kid: str | None) -> Key | None:
        assert self._keys is not None
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _may_attempt(self, now: float) -> bool:
        last = self._last_attempt
        return last is None or now - last >= self._refresh_interval_s or now < last

    def _try_load(self, now: float) -> bool:
        self._last_attempt = now
        try:
            keys = parse_jwks(self._load())
        except JwksUnavailable as exc:
            log.warning("helseid.jwks_load_failed", error=str(exc), kept=self._keys is not None)
            return False
        self._keys = keys
        self._loaded_at = now
        log.info("helseid.jwks_loaded", keys=len(keys))
        return True
