"""The issuer's keys: from a file or a URL, cached, refreshed on rotation at a bounded rate."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict, Unpack

import pytest
from joserfc import jwk

from access.errors import HelseIdRefused, Refusal
from access.helseid import HelseIdVerifier
from access.helseid_settings import HelseIdSettings
from access.jwks import MAX_JWKS_BYTES, IssuerKeys, JwksUnavailable, file_loader, parse_jwks
from tests.support.helseid import (
    API_URL,
    ISSUER,
    ORG_NUMBER,
    FakeClock,
    Issuer,
    JwksServer,
    ec_client,
    rsa_key,
)


class _Tuning(TypedDict, total=False):
    jwks_timeout_s: float


class Served:
    """An issuer whose JWKS a local HTTP server publishes, and a verifier fetching it."""

    def __init__(
        self, server: JwksServer, clock: FakeClock, issuer: Issuer, **settings: Unpack[_Tuning]
    ) -> None:
        self.server = server
        self.clock = clock
        self.issuer = issuer
        self.client = ec_client(clock)
        self.settings = HelseIdSettings(
            issuer=ISSUER, jwks_url=server.url, nonce_required=False, **settings
        )
        self.verifier = HelseIdVerifier(self.settings, clock=clock, monotonic=clock)

    def call(self, token: str) -> str:
        proof = self.client.proof(token)
        return self.verifier.verify("POST", API_URL, f"DPoP {token}", proof).org_number

    def refused(self, token: str) -> HelseIdRefused:
        with pytest.raises(HelseIdRefused) as caught:
            self.call(token)
        return caught.value


@pytest.fixture
def served() -> Iterator[Served]:
    clock = FakeClock()
    issuer = Issuer(clock)
    server = JwksServer(issuer.jwks())
    with server.running():
        yield Served(server, clock, issuer)


def test_keys_are_fetched_once_and_cached(served: Served) -> None:
    assert served.server.requests == 0  # nothing is fetched before it is needed
    for _ in range(3):
        assert served.call(served.issuer.token(served.client)) == ORG_NUMBER
    assert served.server.requests == 1


def test_a_rotated_key_is_fetched_on_its_unknown_kid_at_most_once_per_interval(
    served: Served,
) -> None:
    assert served.call(served.issuer.token(served.client)) == ORG_NUMBER
    new_key = rsa_key("issuer-2", slot=1)
    served.server.document = served.issuer.jwks(new_key)
    rotated = served.issuer.token(served.client, key=new_key)

    # Just fetched: an unknown kid does not fetch again within the interval.
    assert served.refused(rotated).reason is Refusal.INVALID_SIGNATURE
    assert served.server.requests == 1

    served.clock.advance(served.settings.jwks_refresh_interval_s)
    assert served.call(rotated) == ORG_NUMBER
    assert served.server.requests == 2

    # A stream of forged kids costs at most one fetch per interval.
    served.clock.advance(served.settings.jwks_refresh_interval_s)
    for n in range(20):
        forged = served.issuer.token(served.client, key=rsa_key(f"forged-{n}", slot=1))
        assert served.refused(forged).reason is Refusal.INVALID_SIGNATURE
    assert served.server.requests == 3


def test_keys_are_fetched_again_after_their_max_age_and_retired_keys_stop(
    served: Served,
) -> None:
    token = served.issuer.token(served.client)
    assert served.call(token) == ORG_NUMBER
    served.server.document = served.issuer.jwks(rsa_key("issuer-2", slot=1))
    served.server.document["keys"].pop(0)  # the issuer retired its first key
    served.clock.advance(served.settings.jwks_max_age_s)
    assert served.refused(served.issuer.token(served.client)).status == 401
    assert served.server.requests == 2


def test_a_failed_refresh_keeps_the_last_good_keys(served: Served) -> None:
    assert served.call(served.issuer.token(served.client)) == ORG_NUMBER
    served.server.status = 500
    served.clock.advance(served.settings.jwks_max_age_s)
    assert served.call(served.issuer.token(served.client)) == ORG_NUMBER
    assert served.server.requests == 2


def test_without_any_keys_the_answer_is_503_until_the_issuer_answers(served: Served) -> None:
    served.server.status = 503
    refused = served.refused(served.issuer.token(served.client))
    assert (refused.status, refused.reason) == (503, Refusal.ISSUER_KEYS_UNAVAILABLE)
    assert refused.headers["Retry-After"] == "5"
    served.server.status = 200
    served.clock.advance(served.settings.jwks_refresh_interval_s)
    assert served.call(served.issuer.token(served.client)) == ORG_NUMBER


def test_a_hanging_jwks_url_is_given_up_after_the_timeout() -> None:
    clock = FakeClock()
    issuer = Issuer(clock)
    server = JwksServer(issuer.jwks())
    server.hang.set()
    with server.running():
        served = Served(server, clock, issuer, jwks_timeout_s=0.5)
        started = time.monotonic()
        refused = served.refused(issuer.token(served.client))
        elapsed = time.monotonic() - started
    assert refused.reason is Refusal.ISSUER_KEYS_UNAVAILABLE
    assert elapsed < 5


def test_a_redirect_is_not_followed(served: Served) -> None:
    served.server.status = 302
    assert served.refused(served.issuer.token(served.client)).status == 503


def test_refresh_loads_the_keys_at_start(served: Served) -> None:
    assert served.verifier.keys.refresh()
    assert served.server.requests == 1
    served.server.status = 500
    assert not served.verifier.keys.refresh()


# --- the key set itself ------------------------------------------------------------------------


def _document(*keys: object) -> bytes:
    return json.dumps({"keys": list(keys)}).encode()


def test_only_public_rsa_and_ec_signing_keys_are_kept() -> None:
    rsa = rsa_key("sig").as_dict(private=False)
    ec = jwk.generate_key("EC", "P-256", parameters={"kid": "ec"}).as_dict(private=False)
    keys = parse_jwks(
        _document(
            rsa,
            ec,
            {**rsa, "kid": "enc", "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {**rsa_key("private", slot=1).as_dict(private=True)},
            {"kty": "RSA", "kid": "broken", "n": "AQAB"},
            "not a key",
        )
    )
    assert set(keys) == {"sig", "ec"}
    assert not any(key.is_private for key in keys.values())


def test_a_key_without_kid_is_used_only_when_it_is_the_only_key() -> None:
    bare = {k: v for k, v in rsa_key("x").as_dict(private=False).items() if k != "kid"}
    assert set(parse_jwks(_document(bare))) == {None}
    assert set(parse_jwks(_document(bare, rsa_key("named", slot=1).as_dict()))) == {"named"}
    keys = IssuerKeys(lambda: _document(bare), max_age_s=60, refresh_interval_s=60)
    assert keys.key_for(None).kid is None


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[]", b'{"keys": {}}', b'{"keys": []}', _document({"kty": "oct", "k": "AA"})],
)
def test_an_unusable_key_set_is_unavailable(data: bytes) -> None:
    with pytest.raises(JwksUnavailable):
        parse_jwks(data)


def test_a_jwks_file_is_read_and_an_oversized_or_missing_one_refused(tmp_path: Path) -> None:
    clock = FakeClock()
    path = Issuer(clock).write_jwks(tmp_path / "jwks.json")
    assert parse_jwks(file_loader(path)())
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_JWKS_BYTES + 1))
    with pytest.raises(JwksUnavailable, match="larger"):
        file_loader(big)()
    with pytest.raises(JwksUnavailable, match="cannot read"):
        file_loader(tmp_path / "missing.json")()
