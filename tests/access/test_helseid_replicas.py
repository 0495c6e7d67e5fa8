"""Several API replicas behind one address: nonces one issued are taken by the others, and a
DPoP proof one took is refused by every other (the proofs seen are in the shared database)."""

from pathlib import Path

import pytest

from access.errors import HelseIdRefused, Refusal
from access.helseid import HelseIdVerifier
from hubstats.proofs import SharedProofs
from hubstats.store import StatisticsStore
from tests.support.helseid import API_URL, ORG_NUMBER, World, assert_refused


def test_replicas_sharing_a_nonce_secret_accept_each_others_nonces(tmp_path: Path) -> None:
    one = World(tmp_path, nonce_secret="shared-secret")
    other = HelseIdVerifier(one.settings, clock=one.clock, monotonic=one.clock)
    token = one.issuer.token(one.client)
    proof = one.client.proof(token, nonce=other.nonce_headers()["DPoP-Nonce"])
    assert one.call(token, proof).org_number == ORG_NUMBER


# --- nothing secret leaves ---------------------------------------------------------------------


def test_replicas_sharing_the_database_refuse_a_proof_the_other_took(tmp_path: Path) -> None:
    store = StatisticsStore.open(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        one = World(tmp_path, nonce_secret="shared-secret")  # replicas share the nonce secret
        shared = SharedProofs(store.engine, one.settings.replay_window_s)
        one.verifier = HelseIdVerifier(
            one.settings, clock=one.clock, monotonic=one.clock, replay=shared
        )
        other = HelseIdVerifier(
            one.settings,
            clock=one.clock,
            monotonic=one.clock,
            replay=SharedProofs(store.engine, one.settings.replay_window_s),
        )
        token = one.issuer.token(one.client)
        proof = one.client.proof(token, nonce=one.nonce())
        assert one.call(token, proof).org_number == ORG_NUMBER
        with pytest.raises(HelseIdRefused) as caught:
            other.verify("POST", API_URL, f"DPoP {token}", proof)
        assert_refused(caught.value, 401, Refusal.REPLAYED_PROOF, "invalid_dpop_proof")
    finally:
        store.close()
