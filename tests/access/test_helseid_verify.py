"""HelseID DPoP credentials end to end: the good path, and each single thing wrong refused."""

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc import jwk, jwt
from structlog.testing import capture_logs

from access.errors import HelseIdRefused, Refusal
from access.helseid import (
    MAX_AUTHORIZATION_CHARS,
    MAX_PROOF_CHARS,
    HelseIdVerifier,
    is_dpop_authorization,
)
from hubstats.proofs import SharedProofs
from tests.support.helseid import (
    API_URL,
    CHILD_ORG_NUMBER,
    CLIENT_ID,
    ORG_NUMBER,
    World,
    assert_refused,
    ec_client,
    rsa_client,
    rsa_key,
    unsigned,
)

HERID = "nhn:msh/client/claims/herid"
ORGNR_CHILD = "helseid://claims/client/claims/orgnr_child"
ORGNR_PARENT = "helseid://claims/client/claims/orgnr_parent"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


# --- the good path ---------------------------------------------------------------------------


def test_a_valid_token_and_proof_give_the_callers_identity(world: World) -> None:
    token = world.issuer.token(world.client)
    identity = world.call(token)

    assert identity.org_number == ORG_NUMBER
    assert identity.child_org_number is None
    assert identity.her_ids is None
    assert identity.client_id == CLIENT_ID
    assert identity.key_thumbprint == world.client.key.thumbprint()
    assert identity.expires_at == world.clock() + 600
    assert token not in repr(identity)
    with pytest.raises(AttributeError):
        identity.org_number = "1"  # type: ignore[misc]


def test_sub_unit_and_her_id_claims_narrow_the_identity(world: World) -> None:
    token = world.issuer.token(
        world.client, extra_claims={ORGNR_CHILD: CHILD_ORG_NUMBER, HERID: "8094166-8094167"}
    )
    identity = world.call(token)
    assert identity.child_org_number == CHILD_ORG_NUMBER
    assert identity.her_ids == frozenset({8094166, 8094167})


def test_herid_zero_means_every_her_id_of_the_organisation(world: World) -> None:
    assert world.call(world.issuer.token(world.client, extra_claims={HERID: "0"})).her_ids is None


def test_an_rsa_pss_client_key_and_scope_as_text_and_audience_list_are_accepted(
    world: World,
) -> None:
    client = rsa_client(world.clock)
    token = world.issuer.token(client, scope="openid nhn:msh/api", aud=["other", "nhn:msh"])
    assert world.call(token, client=client).key_thumbprint == client.key.thumbprint()


def test_htu_ignores_query_fragment_case_and_default_port(world: World) -> None:
    token = world.issuer.token(world.client)
    proof = world.client.proof(
        token, nonce=world.nonce(), url="HTTPS://MSH.test.example:443/Messages"
    )
    identity = world.verifier.verify(
        "POST", API_URL + "?ReceiverHerIds=1#x", f"DPoP {token}", [proof]
    )
    assert identity.org_number == ORG_NUMBER


def test_behind_a_proxy_htu_is_checked_against_the_public_url(tmp_path: Path) -> None:
    world = World(tmp_path, public_url="https://msh.test.example/")
    token = world.issuer.token(world.client)
    proof = world.client.proof(token, nonce=world.nonce())
    identity = world.verifier.verify(
        "POST", "http://10.0.0.5:8080/Messages", f"DPoP {token}", proof
    )
    assert identity.org_number == ORG_NUMBER


def test_is_dpop_authorization_tells_dpop_from_bearer() -> None:
    assert is_dpop_authorization("DPoP abc")
    assert is_dpop_authorization("dpop abc")
    assert not is_dpop_authorization("Bearer abc")
    assert not is_dpop_authorization(None)


# --- the Authorization and DPoP headers --------------------------------------------------------


def test_no_credentials_is_401_with_a_challenge_and_no_error_code(world: World) -> None:
    with pytest.raises(HelseIdRefused) as caught:
        world.verifier.verify("POST", API_URL, None, None)
    refused = caught.value
    assert_refused(refused, 401, Refusal.MISSING_CREDENTIALS)
    assert refused.headers["WWW-Authenticate"].startswith('DPoP algs="RS256 ')
    assert "error=" not in refused.headers["WWW-Authenticate"]
    assert world.verifier.keys is not None


def test_a_bearer_scheme_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    proof = world.client.proof(token, nonce=world.nonce())
    with pytest.raises(HelseIdRefused) as caught:
        world.verifier.verify("POST", API_URL, f"Bearer {token}", proof)
    assert_refused(caught.value, 401, Refusal.WRONG_SCHEME, "invalid_token")


def test_oversized_headers_are_refused_before_they_are_parsed(world: World) -> None:
    huge = "A" * (MAX_AUTHORIZATION_CHARS + 1)
    with pytest.raises(HelseIdRefused) as caught:
        world.verifier.verify("POST", API_URL, f"DPoP {huge}", "x.y.z")
    assert_refused(caught.value, 401, Refusal.MALFORMED_TOKEN, "invalid_token")

    token = world.issuer.token(world.client)
    with pytest.raises(HelseIdRefused) as caught:
        world.verifier.verify("POST", API_URL, f"DPoP {token}", "A" * (MAX_PROOF_CHARS + 1))
    assert_refused(caught.value, 401, Refusal.INVALID_PROOF, "invalid_dpop_proof")


@pytest.mark.parametrize("dpop", [None, "", [], ["a.b.c", "a.b.c"]])
def test_anything_but_exactly_one_proof_is_refused(world: World, dpop: Any) -> None:
    token = world.issuer.token(world.client)
    with pytest.raises(HelseIdRefused) as caught:
        world.verifier.verify("POST", API_URL, f"DPoP {token}", dpop)
    assert_refused(caught.value, 401, Refusal.INVALID_PROOF, "invalid_dpop_proof")


def test_a_token_that_is_not_a_jwt_is_refused(world: World) -> None:
    refused = world.refused("not-a-jwt")
    assert_refused(refused, 401, Refusal.MALFORMED_TOKEN, "invalid_token")


# --- the access token --------------------------------------------------------------------------


def test_a_token_signed_by_another_key_with_the_issuers_kid_is_refused(world: World) -> None:
    forger = rsa_key(world.issuer.key.kid or "", slot=1)
    refused = world.refused(world.issuer.token(world.client, key=forger))
    assert_refused(refused, 401, Refusal.INVALID_SIGNATURE, "invalid_token")


def test_a_token_with_an_unknown_kid_is_refused(world: World) -> None:
    stranger = rsa_key("somebody-else", slot=1)
    refused = world.refused(world.issuer.token(world.client, key=stranger))
    assert_refused(refused, 401, Refusal.INVALID_SIGNATURE, "invalid_token")


def test_a_tampered_token_is_refused(world: World) -> None:
    header, payload, signature = world.issuer.token(world.client).split(".")
    other = world.issuer.token(world.client, extra_claims={ORGNR_PARENT: "974633698"}).split(".")[1]
    refused = world.refused(f"{header}.{other}.{signature}")
    assert_refused(refused, 401, Refusal.INVALID_SIGNATURE)
    assert payload != other


def test_alg_none_tokens_are_refused(world: World) -> None:
    claims = world.issuer.claims(world.client)
    header = {"alg": "none", "kid": world.issuer.key.kid}
    assert_refused(world.refused(unsigned(header, claims)), 401, Refusal.MALFORMED_TOKEN)
    assert_refused(world.refused(unsigned(header, claims, b"x")), 401, Refusal.INVALID_SIGNATURE)


def test_hs256_tokens_keyed_with_the_issuers_public_key_are_refused(world: World) -> None:
    modulus = world.issuer.key.as_dict(private=False)["n"]
    assert isinstance(modulus, str)
    secret = jwk.import_key(modulus.encode(), "oct")
    header = {"alg": "HS256", "kid": world.issuer.key.kid}
    token = jwt.encode(header, world.issuer.claims(world.client), secret, algorithms=["HS256"])
    assert_refused(world.refused(token), 401, Refusal.INVALID_SIGNATURE, "invalid_token")


def test_a_token_from_another_issuer_is_refused(world: World) -> None:
    refused = world.refused(world.issuer.token(world.client, iss="https://evil.example"))
    assert_refused(refused, 401, Refusal.WRONG_ISSUER, "invalid_token")


def test_a_token_for_another_audience_is_403(world: World) -> None:
    refused = world.refused(world.issuer.token(world.client, aud="nhn:kjernejournal"))
    assert_refused(refused, 403, Refusal.WRONG_AUDIENCE, "invalid_token")


def test_a_token_without_the_scope_is_403_naming_the_scope(world: World) -> None:
    refused = world.refused(world.issuer.token(world.client, scope=["nhn:msh/other"]))
    assert_refused(refused, 403, Refusal.INSUFFICIENT_SCOPE, "insufficient_scope")
    assert 'scope="nhn:msh/api"' in refused.headers["WWW-Authenticate"]
    assert "DPoP-Nonce" not in refused.headers


def test_expiry_is_enforced_with_the_leeway(world: World) -> None:
    token = world.issuer.token(world.client, exp=int(world.clock()) - 30)
    assert world.call(token).org_number == ORG_NUMBER  # within 30 s of leeway
    expired = world.issuer.token(world.client, exp=int(world.clock()) - 31)
    assert_refused(world.refused(expired), 401, Refusal.EXPIRED_TOKEN, "invalid_token")
    without = world.issuer.token(world.client, exp=None)
    assert_refused(world.refused(without), 401, Refusal.INVALID_CLAIMS, "invalid_token")


def test_a_token_not_valid_yet_is_refused(world: World) -> None:
    token = world.issuer.token(world.client, nbf=int(world.clock()) + 31)
    assert_refused(world.refused(token), 401, Refusal.EXPIRED_TOKEN, "invalid_token")


def test_a_token_bound_to_another_key_is_refused(world: World) -> None:
    other = ec_client(world.clock)
    token = world.issuer.token(other)  # cnf.jkt of the other client's key
    assert_refused(world.refused(token), 401, Refusal.KEY_BINDING, "invalid_token")


def test_a_plain_bearer_token_without_cnf_is_refused(world: World) -> None:
    token = world.issuer.token(world.client, cnf=None)
    assert_refused(world.refused(token), 401, Refusal.KEY_BINDING, "invalid_token")


@pytest.mark.parametrize(
    "claims",
    [
        {ORGNR_PARENT: None},
        {ORGNR_PARENT: "91215952"},
        {ORGNR_PARENT: "９１２１５９５２３"},  # fullwidth digits
        {ORGNR_PARENT: 912159523},
        {ORGNR_CHILD: "92273404x"},
        {HERID: "8094166-"},
        {HERID: "٨٠٩٤١٦٦"},  # Arabic-Indic digits
        {HERID: "0-8094166"},
        {HERID: 8094166},
        {"client_id": None},
        {"client_id": "line\nbreak"},
    ],
)
def test_bad_identity_claims_are_refused(world: World, claims: dict[str, Any]) -> None:
    refused = world.refused(world.issuer.token(world.client, **claims))
    assert_refused(refused, 401, Refusal.INVALID_CLAIMS, "invalid_token")


# --- the proof ---------------------------------------------------------------------------------


def test_a_proof_for_another_method_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    proof = world.client.proof(token, method="GET", nonce=world.nonce())
    refused = world.refused(token, proof)
    assert_refused(refused, 401, Refusal.INVALID_PROOF, "invalid_dpop_proof")
    assert "htm" in refused.detail


def test_a_proof_for_another_url_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    proof = world.client.proof(token, url=API_URL + "/other", nonce=world.nonce())
    refused = world.refused(token, proof)
    assert_refused(refused, 401, Refusal.INVALID_PROOF, "invalid_dpop_proof")
    assert "htu" in refused.detail


def test_stale_and_future_proofs_are_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    now = int(world.clock())
    assert world.call(token, iat=now - 90).org_number == ORG_NUMBER  # max age 60 + leeway 30
    assert_refused(world.refused(token, iat=now - 91), 401, Refusal.STALE_PROOF)
    assert_refused(world.refused(token, iat=now + 31), 401, Refusal.STALE_PROOF)


def test_a_replayed_proof_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    proof = world.client.proof(token, nonce=world.nonce())
    assert world.call(token, proof).org_number == ORG_NUMBER
    refused = world.refused(token, proof)
    assert_refused(refused, 401, Refusal.REPLAYED_PROOF, "invalid_dpop_proof")


def test_a_refused_request_does_not_use_up_its_jti(world: World) -> None:
    token = world.issuer.token(world.client, aud="other")
    jti = "fixed-jti"
    world.refused(token, jti=jti)
    good = world.issuer.token(world.client)
    assert world.call(good, jti=jti).org_number == ORG_NUMBER


def test_a_proof_with_the_wrong_ath_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    other = world.issuer.token(world.client)
    refused = world.refused(token, world.client.proof(other, nonce=world.nonce()))
    assert_refused(refused, 401, Refusal.INVALID_PROOF)
    assert "ath" in refused.detail
    assert_refused(world.refused(token, ath=None), 401, Refusal.INVALID_PROOF)


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
def test_a_proof_missing_a_required_claim_is_refused(world: World, claim: str) -> None:
    token = world.issuer.token(world.client)
    assert_refused(world.refused(token, **{claim: None}), 401, Refusal.INVALID_PROOF)


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    proof = world.client.proof(token, nonce=world.nonce(), key=jwk.generate_key("EC", "P-256"))
    refused = world.refused(token, proof)
    assert_refused(refused, 401, Refusal.INVALID_PROOF)
    assert "signature" in refused.detail


@pytest.mark.parametrize(
    "header",
    [
        {"typ": "JWT"},
        {"typ": None},
        {"jwk": None},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
    ],
)
def test_proofs_with_a_wrong_header_are_refused(world: World, header: dict[str, Any]) -> None:
    token = world.issuer.token(world.client)
    proof = world.client.proof(token, nonce=world.nonce(), header=header)
    assert_refused(world.refused(token, proof), 401, Refusal.INVALID_PROOF, "invalid_dpop_proof")


def test_a_proof_carrying_its_private_key_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    leaky = world.client.key.as_dict(private=True)
    proof = world.client.proof(token, nonce=world.nonce(), header={"jwk": leaky})
    refused = world.refused(token, proof)
    assert_refused(refused, 401, Refusal.INVALID_PROOF)
    assert "jwk" in refused.detail


def test_alg_none_and_hmac_proofs_are_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    claims = {"jti": "j", "htm": "POST", "htu": API_URL, "iat": int(world.clock())}
    public = world.client.key.as_dict(private=False)
    none_proof = unsigned({"typ": "dpop+jwt", "alg": "none", "jwk": public}, claims, b"x")
    assert_refused(world.refused(token, none_proof), 401, Refusal.INVALID_PROOF)

    secret = jwk.import_key(b"shared-secret-shared-secret-1234", "oct")
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": public}
    hmac_proof = jwt.encode(header, claims, secret, algorithms=["HS256"], default_type=None)
    refused = world.refused(token, hmac_proof)
    assert_refused(refused, 401, Refusal.INVALID_PROOF)
    assert "algorithm" in refused.detail


# --- server nonces -----------------------------------------------------------------------------


def test_a_proof_without_nonce_gets_use_dpop_nonce_and_the_nonce_then_works(world: World) -> None:
    token = world.issuer.token(world.client)
    refused = world.refused(token, world.client.proof(token))
    assert_refused(refused, 401, Refusal.NONCE_REQUIRED, "use_dpop_nonce")
    nonce = refused.headers["DPoP-Nonce"]
    assert world.call(token, world.client.proof(token, nonce=nonce)).org_number == ORG_NUMBER


def test_an_old_or_forged_nonce_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    old = world.nonce()
    world.clock.advance(world.settings.nonce_lifetime_s)
    assert world.call(token, nonce=old).org_number == ORG_NUMBER  # previous window still good
    world.clock.advance(world.settings.nonce_lifetime_s)
    token = world.issuer.token(world.client)
    assert_refused(world.refused(token, nonce=old), 401, Refusal.NONCE_REQUIRED)
    forged = "A" * len(old or "")
    assert_refused(world.refused(token, nonce=forged), 401, Refusal.NONCE_REQUIRED)


def test_with_nonces_off_a_proof_without_nonce_is_accepted(tmp_path: Path) -> None:
    world = World(tmp_path, nonce_required=False)
    assert world.nonce() is None
    token = world.issuer.token(world.client)
    assert world.call(token, world.client.proof(token)).org_number == ORG_NUMBER


def test_refusals_and_logs_never_carry_the_token_or_proof(world: World) -> None:
    token = world.issuer.token(world.client, aud="nhn:other")
    proof = world.client.proof(token, nonce=world.nonce())
    with capture_logs() as logs, pytest.raises(HelseIdRefused) as caught:
        world.verifier.verify("POST", API_URL, f"DPoP {token}", proof)
    refused = caught.value
    text = " ".join([str(refused), refused.detail, *refused.headers.values(), repr(logs)])
    for secret in (token, proof, token.split(".")[2], proof.split(".")[2]):
        assert secret not in text
    assert logs[-1] == {
        "event": "helseid.refused",
        "status": 403,
        "reason": "wrong_audience",
        "log_level": "info",
    }


def test_a_shared_replay_store_that_does_not_answer_is_a_503_to_retry(tmp_path: Path) -> None:
    """Fail closed, and say so: the proof is not taken, the client is told to try again."""
    world = World(tmp_path)
    unreachable = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/test", connect_args={"connect_timeout": 2}
    )
    try:
        world.verifier = HelseIdVerifier(
            world.settings,
            clock=world.clock,
            monotonic=world.clock,
            replay=SharedProofs(unreachable, world.settings.replay_window_s),
        )
        refused = world.refused()
    finally:
        unreachable.dispose()
    assert refused.status == 503
    assert refused.reason is Refusal.REPLAY_STORE_UNAVAILABLE
    assert refused.headers["Retry-After"]
