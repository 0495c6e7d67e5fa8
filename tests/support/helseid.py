"""A HelseID stand-in for tests: an issuer with its own keys, clients with DPoP keys, a JWKS server.

Everything is signed with joserfc; nothing here is a shortcut the verifier could
take, so a token or proof made here is exactly what a real client would send.
"""

import base64
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwk, jwt
from joserfc.jwk import Key, RSAKey

from access.dpop import access_token_hash
from access.errors import HelseIdRefused, Refusal
from access.helseid import HelseIdVerifier
from access.helseid_settings import HelseIdSettings
from access.helseid_token import HelseIdIdentity

ISSUER = "https://helseid-sts.test.example"
API_URL = "https://msh.test.example/Messages"
ORG_NUMBER = "912159523"
CHILD_ORG_NUMBER = "922734046"
CLIENT_ID = "a3c1b2d4-msh-test-client"
_RSA_KEYS: dict[int, RSAKey] = {}


def rsa_key(kid: str, slot: int = 0) -> RSAKey:
    """A 2048-bit RSA key named ``kid``; each ``slot`` is generated once per session (slow)."""
    if slot not in _RSA_KEYS:
        _RSA_KEYS[slot] = jwk.generate_key("RSA", 2048)
    return jwk.import_key(_RSA_KEYS[slot].as_dict(private=True, kid=kid), "RSA")


class FakeClock:
    """Wall and monotonic time in one: tests move it, nothing sleeps."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS with any header and any signature bytes (for forgeries)."""
    parts = [json.dumps(header).encode(), json.dumps(claims).encode(), signature]
    return ".".join(b64(p) for p in parts)


@dataclass
class Issuer:
    """Signs access tokens; its public keys are the JWKS the verifier trusts."""

    clock: FakeClock
    key: Key = field(default_factory=lambda: rsa_key("issuer-1"))
    alg: str = "RS256"

    def jwks(self, *extra: Key) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False, use="sig") for k in (self.key, *extra)]}

    def write_jwks(self, path: Path, *extra: Key) -> Path:
        path.write_text(json.dumps(self.jwks(*extra)))
        return path

    def claims(self, client: "Client", /, **overrides: Any) -> dict[str, Any]:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": "nhn:msh",
            "scope": ["nhn:msh/api"],
            "client_id": CLIENT_ID,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
            "cnf": {"jkt": client.key.thumbprint()},
            "helseid://claims/client/claims/orgnr_parent": ORG_NUMBER,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        client: "Client",
        *,
        key: Key | None = None,
        alg: str | None = None,
        extra_claims: Mapping[str, object] | None = None,
        **claims: Any,
    ) -> str:
        """An access token for ``client``; a claim given as None is left out.

        ``extra_claims`` carries the claims whose names are no Python identifier
        (``helseid://claims/...``, ``nhn:msh/...``)."""
        signing_key = key or self.key
        algorithm = alg or self.alg
        header = {"alg": algorithm, "typ": "at+jwt", "kid": signing_key.kid}
        return jwt.encode(
            header,
            self.claims(client, **claims, **(extra_claims or {})),
            signing_key,
            algorithms=[algorithm],
        )


@dataclass
class Client:
    """A HelseID client: its DPoP key makes one proof per request."""

    clock: FakeClock
    key: Key = field(default_factory=lambda: jwk.generate_key("EC", "P-256"))
    alg: str = "ES256"

    def proof(
        self,
        token: str,
        *,
        method: str = "POST",
        url: str = API_URL,
        nonce: str | None = None,
        header: dict[str, Any] | None = None,
        key: Key | None = None,
        **claims: Any,
    ) -> str:
        """A DPoP proof; a claim or ``header`` field given as None is left out."""
        body: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(self.clock()),
            "ath": access_token_hash(token),
            "nonce": nonce,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        signing_key = key or self.key
        head: dict[str, Any] = {
            "typ": "dpop+jwt",
            "alg": self.alg,
            "jwk": self.key.as_dict(private=False),
        }
        head.update(header or {})
        head = {k: v for k, v in head.items() if v is not None}
        return jwt.encode(head, body, signing_key, algorithms=[head["alg"]], default_type=None)


def ec_client(clock: FakeClock) -> Client:
    return Client(clock, jwk.generate_key("EC", "P-256"))


def rsa_client(clock: FakeClock) -> Client:
    return Client(clock, rsa_key("client", slot=2), "PS256")


class JwksServer:
    """A tiny JWKS endpoint on loopback: serves ``document``, counts requests, can hang."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.requests = 0
        self.hang = threading.Event()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.hang.is_set():
                    server.release.wait(10)
                    return
                body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/jwks"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @contextmanager
    def running(self) -> Iterator["JwksServer"]:
        self._thread.start()
        try:
            yield self
        finally:
            self.release.set()
            self._httpd.shutdown()
            self._httpd.server_close()


class World:
    """One issuer, one client, one verifier trusting the issuer's JWKS file; a shared clock."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.clock = FakeClock()
        self.issuer = Issuer(self.clock)
        self.client = ec_client(self.clock)
        jwks = self.issuer.write_jwks(tmp_path / "jwks.json")
        self.settings = HelseIdSettings(issuer=ISSUER, jwks_file=jwks, **settings)
        self.verifier = HelseIdVerifier(self.settings, clock=self.clock, monotonic=self.clock)

    def nonce(self) -> str | None:
        return self.verifier.nonce_headers().get("DPoP-Nonce")

    def call(
        self,
        token: str | None = None,
        proof: str | None = None,
        *,
        client: Client | None = None,
        method: str = "POST",
        url: str = API_URL,
        **proof_claims: Any,
    ) -> HelseIdIdentity:
        client = client or self.client
        token = token if token is not None else self.issuer.token(client)
        if proof is None:
            proof_claims.setdefault("nonce", self.nonce())
            proof = client.proof(token, method=method, url=url, **proof_claims)
        return self.verifier.verify(method, url, f"DPoP {token}", proof)

    def refused(self, *args: Any, **kwargs: Any) -> HelseIdRefused:
        with pytest.raises(HelseIdRefused) as caught:
            self.call(*args, **kwargs)
        return caught.value


def assert_refused(
    refused: HelseIdRefused, status: int, reason: Refusal, error: str | None = None
) -> None:
    assert (refused.status, refused.reason) == (status, reason), refused
    if error is not None:
        assert f'error="{error}"' in refused.headers["WWW-Authenticate"]
