"""The hub's HTTP API application: which routers a process serves, from what it shares.

One function builds it for ``meldingshub run`` (from the process's resources) and for the
committed OpenAPI document (from stand-ins, :mod:`meldingshub.openapi`), so the document
is the served API by construction.
"""

from collections.abc import Sequence
from typing import Literal

from fastapi import Depends, FastAPI

from access.helseid import HelseIdVerifier
from access.principals import Role
from addressregister.api import create_router as register_router
from broker_adapters.delivery.mailbox_api import mailbox_router
from broker_adapters.http.auth import bearer_principal
from broker_adapters.http.console import console_router
from broker_adapters.http.ingress_api import IngressApiDeps, ingress_router
from broker_adapters.http.msh.caller import (
    Authenticator,
    BearerAuthenticator,
    HelseIdAuthenticator,
    authenticators,
)
from broker_adapters.http.msh.openapi import install as install_msh_openapi
from broker_adapters.http.msh.routes import MshDeps, msh_router
from broker_adapters.http.status import RecentMessages
from hubcore.errors import MeldingshubError
from hubcore.problems import install_problem_handlers
from hubstats.api import statistics_router
from hubstats.proofs import SharedProofs
from meldingshub import __version__
from meldingshub.api_resources import ApiResources
from meldingshub.console_sources import console_deps

ApiPart = Literal["msh", "ingress", "mailbox", "register", "statistics", "console"]
ALL_PARTS: tuple[ApiPart, ...] = (
    "msh",
    "ingress",
    "mailbox",
    "register",
    "statistics",
    "console",
)


def api_app(res: ApiResources, parts: Sequence[ApiPart]) -> FastAPI:
    """The API application serving ``parts``; a part's resources are used only if served."""
    app = FastAPI(title="meldingshub", version=__version__)
    install_problem_handlers(app)
    if "register" in parts:
        app.include_router(
            register_router(
                res.register,
                res.register_metrics,
                page_size_max=res.settings.address_register.page_size_max,
            ),
            dependencies=[Depends(bearer_principal(res.principals, Role.OPERATOR))],
        )
    if "statistics" in parts:
        monitor = bearer_principal(res.principals, Role.OPERATOR, Role.MONITOR)
        app.include_router(statistics_router(res.store, dependencies=[Depends(monitor)]))
    if "mailbox" in parts:
        app.include_router(mailbox_router(res.mailbox, res.principals))
    if "msh" in parts:
        app.include_router(msh_router(msh_deps(res)))
        install_msh_openapi(app)
    if "ingress" in parts:
        app.include_router(
            ingress_router(
                IngressApiDeps(
                    res.gate,
                    res.principals,
                    res.store,
                    RecentMessages(res.settings.ingress.status_cache_size),
                )
            )
        )
    if "console" in parts:
        app.include_router(console_router(console_deps(res)))
    return app


def msh_deps(res: ApiResources) -> MshDeps:
    """NHN's MSH API v2: the gate, the mailbox and the status store; the principals' bearer
    tokens, and HelseID DPoP-bound tokens when an issuer is configured."""
    schemes: list[Authenticator] = [BearerAuthenticator(res.principals)]
    helseid = res.settings.access.helseid
    if helseid.issuer is not None:
        if helseid.public_url is None:
            raise MeldingshubError(
                "HelseID needs MELDINGSHUB_ACCESS__HELSEID__PUBLIC_URL, the API's address as "
                "clients reach it: DPoP proofs are checked against it, never against the "
                "Host header a client chooses"
            )
        # Proofs are remembered in the database every replica shares, not per process.
        proofs = SharedProofs(res.store.engine, helseid.replay_window_s)
        verifier = HelseIdVerifier(helseid, replay=proofs)
        schemes.append(HelseIdAuthenticator(verifier, res.register.snapshot))
    return MshDeps(
        gate=res.gate,
        authenticators=authenticators(*schemes),
        mailbox=res.mailbox,
        register=res.register.snapshot,
        store=res.store,
        recent=RecentMessages(res.settings.ingress.status_cache_size),
    )
