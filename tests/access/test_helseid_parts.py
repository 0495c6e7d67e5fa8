"""The parts of the HelseID check on their own: settings, nonces, the replay store, htu, herid."""

import os
from pathlib import Path

import pytest

from access.dpop import normalize_htu
from access.dpop_nonce import NonceIssuer
from access.helseid_settings import HelseIdSettings
from access.helseid_token import parse_herid_claim
from access.replay import ReplayCache, ReplayStoreFull
from meldingshub.settings import SettingsError, load_settings
from tests.support.helseid import ISSUER, FakeClock

# --- settings ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_hub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from this test alone, not from the shell that runs it."""
    for name in list(os.environ):
        if name.startswith("MELDINGSHUB_"):
            monkeypatch.delenv(name)


def test_helseid_is_off_by_default_and_configured_through_the_access_section(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert not load_settings().access.helseid.enabled
    monkeypatch.setenv("MELDINGSHUB_ACCESS__HELSEID__ISSUER", ISSUER)
    monkeypatch.setenv("MELDINGSHUB_ACCESS__HELSEID__JWKS_FILE", str(tmp_path / "jwks.json"))
    monkeypatch.setenv("MELDINGSHUB_ACCESS__HELSEID__NONCE_REQUIRED", "false")
    helseid = load_settings().access.helseid
    assert helseid.enabled
    assert (helseid.audience, helseid.required_scope) == ("nhn:msh", "nhn:msh/api")
    assert helseid.nonce_required is False


def test_an_issuer_without_exactly_one_key_source_stops_the_hub(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MELDINGSHUB_ACCESS__HELSEID__ISSUER", ISSUER)
    with pytest.raises(SettingsError, match="exactly one of jwks_file and jwks_url"):
        load_settings()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"jwks_url": "http://helseid.example/jwks"}, "https"),
        ({"jwks_url": "https://user:pw@helseid.example/jwks"}, "credentials"),
        ({"jwks_url": "ftp://helseid.example/jwks"}, "https"),
        ({"jwks_url": "https://h.example/jwks", "algorithms": ["HS256"]}, "RS256"),
        ({"jwks_url": "https://h.example/jwks", "algorithms": ["none"]}, "RS256"),
        ({"jwks_url": "https://h.example/jwks", "algorithms": []}, "at least 1"),
        ({"jwks_url": "https://h.example/jwks", "replay_window_s": 60}, "replay_window_s"),
        ({"jwks_url": "https://h.example/jwks", "public_url": "https://x.example/?a=1"}, "query"),
        ({"jwks_url": "https://h.example/jwks", "surprise": 1}, "Extra inputs"),
    ],
)
def test_unsafe_settings_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HelseIdSettings(issuer=ISSUER, **fields)  # type: ignore[arg-type]


def test_plain_http_jwks_is_allowed_to_loopback_only() -> None:
    settings = HelseIdSettings(issuer=ISSUER, jwks_url="http://127.0.0.1:8081/jwks")
    assert settings.jwks_url == "http://127.0.0.1:8081/jwks"


# --- nonces ------------------------------------------------------------------------------------


def test_a_nonce_is_valid_in_its_window_and_the_next_only() -> None:
    clock = FakeClock(1_000_000.0)
    nonces = NonceIssuer(300, b"k" * 32, clock)
    nonce = nonces.current()
    assert nonces.valid(nonce)
    clock.advance(300)
    assert nonces.valid(nonce)
    assert nonces.current() != nonce
    clock.advance(300)
    assert not nonces.valid(nonce)


def test_nonces_of_another_key_or_malformed_ones_are_refused() -> None:
    clock = FakeClock()
    ours, theirs = NonceIssuer(300, b"a" * 32, clock), NonceIssuer(300, b"b" * 32, clock)
    nonce = theirs.current()
    assert not ours.valid(nonce)
    for bad in ["", "!" * 32, nonce + "A", nonce[:-1], "A" * 500, nonce.replace("A", "é")]:
        assert not ours.valid(bad)


def test_without_a_secret_each_issuer_has_its_own_key() -> None:
    clock = FakeClock()
    assert not NonceIssuer(300, None, clock).valid(NonceIssuer(300, None, clock).current())


# --- the replay store --------------------------------------------------------------------------


def test_a_jti_is_refused_within_the_window_and_forgotten_after() -> None:
    clock = FakeClock()
    cache = ReplayCache(window_s=120, max_entries=100, monotonic=clock)
    assert cache.first_use("key-a", "jti-1")
    assert not cache.first_use("key-a", "jti-1")
    assert cache.first_use("key-b", "jti-1")  # another key's jti is another proof
    clock.advance(119)
    assert not cache.first_use("key-a", "jti-1")
    clock.advance(1)
    assert cache.first_use("key-a", "jti-1")
    assert len(cache) == 1


def test_a_full_store_refuses_instead_of_forgetting_live_entries() -> None:
    clock = FakeClock()
    cache = ReplayCache(window_s=60, max_entries=100, monotonic=clock)
    for n in range(100):
        assert cache.first_use("key", f"jti-{n}")
    with pytest.raises(ReplayStoreFull):
        cache.first_use("key", "one-more")
    assert not cache.first_use("key", "jti-0")  # still remembered
    clock.advance(60)
    assert cache.first_use("key", "one-more")
    assert len(cache) == 1


# --- htu ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("https://msh.example/Messages", "https://msh.example/Messages"),
        ("HTTPS://MSH.Example:443/Messages?x=1#f", "https://msh.example/Messages"),
        ("http://msh.example:80", "http://msh.example/"),
        ("https://msh.example:8443/a%2fb%7E", "https://msh.example:8443/a%2Fb~"),
        ("https://[::1]:9/x", "https://[::1]:9/x"),
    ],
)
def test_htu_is_normalised_for_comparison(uri: str, normal: str) -> None:
    assert normalize_htu(uri) == normal


@pytest.mark.parametrize(
    "uri",
    ["/Messages", "ftp://x/y", "https://u:p@x/y", "https://x:99999/y", "https://ø.example/"],
)
def test_htu_that_is_no_absolute_http_url_is_none(uri: str) -> None:
    assert normalize_htu(uri) is None


# --- the herid claim ---------------------------------------------------------------------------


def test_herid_claim_values() -> None:
    assert parse_herid_claim(None) is None
    assert parse_herid_claim("0") is None
    assert parse_herid_claim(["0"]) is None
    assert parse_herid_claim("123-456-789") == frozenset({123, 456, 789})
    assert parse_herid_claim(["123", "456-123"]) == frozenset({123, 456})


@pytest.mark.parametrize(
    "value",
    ["", "12 3", "1_000", "+12", "123-", "-123", "0-5", ["0", "5"], "1234567890", "１２", 12, [12]],
)
def test_malformed_herid_claims_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="herid"):
        parse_herid_claim(value)
