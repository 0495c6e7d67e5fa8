"""HelseID on the MSH API: a DPoP-bound access token from a trusted issuer stands for its
organisation's HER-ids in the register (narrowed by the HER-id claim), nothing else."""

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from access.helseid import HelseIdVerifier
from access.helseid_settings import HelseIdSettings
from access.helseid_token import HERID_CLAIM
from addressregister.index import RegisterIndex
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.http.msh.caller import HelseIdAuthenticator, authenticators
from broker_adapters.http.msh.routes import MshDeps, msh_router
from tests.broker_adapters.http.support import (
    OTHER_ORG,
    RECEIVER_ORG,
    RECEIVER_SERVICE,
    msh_register,
)
from tests.broker_adapters.http.test_msh_api import RecordingGate
from tests.support.helseid import ISSUER, ORG_NUMBER, Client, FakeClock, Issuer, ec_client

URL = "http://testserver/Messages"
HEADERS = {"api-version": "2", "nhn-source-system": "Testklient, v1.0"}


@dataclasses.dataclass
class World:
    http: TestClient
    issuer: Issuer
    client: Client
    verifier: HelseIdVerifier

    def call(
        self, token: str, params: dict[str, object], nonce: str | None = None
    ) -> httpx.Response:
        proof = self.client.proof(token, method="GET", url=URL, nonce=nonce)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof, **HEADERS}
        # starlette types TestClient against httpx2 (not installed), so its calls are Any here
        response: httpx.Response = self.http.get("/Messages", params=params, headers=headers)
        return response


def _register() -> RegisterIndex:
    parties = []
    for party in msh_register():
        if party.her_id == RECEIVER_ORG:
            party = dataclasses.replace(party, organisation_number=ORG_NUMBER)
        parties.append(party)
    return RegisterIndex(parties)


@pytest.fixture(params=[False, True], ids=["no-nonce", "nonce"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    clock = FakeClock()
    issuer = Issuer(clock)
    settings = HelseIdSettings(
        issuer=ISSUER,
        jwks_file=issuer.write_jwks(tmp_path / "jwks.json"),
        nonce_required=request.param,
    )
    verifier = HelseIdVerifier(settings, clock=clock, monotonic=clock)
    register = _register()
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    app = FastAPI()
    app.include_router(
        msh_router(
            MshDeps(
                gate=RecordingGate(),
                authenticators=authenticators(HelseIdAuthenticator(verifier, lambda: register)),
                mailbox=mailbox,
                register=lambda: register,
            )
        )
    )
    yield World(TestClient(app), issuer, ec_client(clock), verifier)
    mailbox.engine.dispose()


def _nonce(world: World, token: str) -> str | None:
    """What a client learns from its first refused call when the hub demands nonces."""
    first = world.call(token, {"ReceiverHerIds": RECEIVER_ORG})
    if first.status_code != 401:
        assert not world.verifier.nonce_headers()  # nonces are off
        return None
    assert "use_dpop_nonce" in first.headers["WWW-Authenticate"]
    return str(first.headers["DPoP-Nonce"])


def test_the_organisations_client_reads_its_own_her_ids_only(world: World) -> None:
    token = world.issuer.token(world.client)
    nonce = _nonce(world, token)
    own = world.call(token, {"ReceiverHerIds": RECEIVER_ORG}, nonce)
    assert own.status_code == 200, own.text
    below = world.call(token, {"ReceiverHerIds": RECEIVER_SERVICE}, nonce)
    assert below.status_code == 200
    other = world.call(token, {"ReceiverHerIds": OTHER_ORG}, nonce)
    assert other.status_code == 403
    assert "Not authorized for HerId" in other.text


def test_the_her_id_claim_narrows_the_organisation(world: World) -> None:
    token = world.issuer.token(world.client, extra_claims={HERID_CLAIM: str(RECEIVER_SERVICE)})
    nonce = _nonce(world, token)
    assert world.call(token, {"ReceiverHerIds": RECEIVER_SERVICE}, nonce).status_code == 200
    assert world.call(token, {"ReceiverHerIds": RECEIVER_ORG}, nonce).status_code == 403


def test_a_token_without_its_proof_or_from_another_issuer_is_refused(world: World) -> None:
    token = world.issuer.token(world.client)
    bare = world.http.get(
        "/Messages",
        params={"ReceiverHerIds": RECEIVER_ORG},
        headers={"Authorization": f"DPoP {token}", **HEADERS},
    )
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"].startswith("DPoP")
    stranger = Issuer(world.issuer.clock).token(world.client, iss="https://elsewhere.example")
    nonce = _nonce(world, token)
    assert world.call(stranger, {"ReceiverHerIds": RECEIVER_ORG}, nonce).status_code == 401


def test_a_client_with_nothing_to_send_for_is_refused_before_its_body_is_read(
    world: World,
) -> None:
    token = world.issuer.token(
        world.client, extra_claims={"helseid://claims/client/claims/orgnr_parent": "811111112"}
    )
    nonce = _nonce(world, token)
    proof = world.client.proof(token, method="POST", url=URL, nonce=nonce)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof, **HEADERS}
    answer = world.http.post("/Messages", headers=headers, content=b"{" + b" " * 1000)
    assert answer.status_code == 403
    assert "Not authorized for HerId" in answer.text


def test_a_url_no_proof_can_name_is_refused_not_an_error(world: World) -> None:
    token = world.issuer.token(world.client)
    headers = {"Authorization": f"DPoP {token}", "DPoP": "x", **HEADERS}
    answer = world.http.get("/Messages/%C3%A6/status", headers=headers)
    assert answer.status_code in (400, 401), answer.text
