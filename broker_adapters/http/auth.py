"""Bearer-token authentication for the hub's HTTP APIs: ``Authorization: Bearer <token>``.

Tokens are looked up by their hash in the principals file (see
:mod:`routing.principals`), so the hub never stores a usable token. Every API
that serves a principal (message submission, status, the receivers' mailbox)
uses :func:`bearer_principal` as a FastAPI dependency and gets the
:class:`~routing.principals.Principal` or a 401 problem detail.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from broker_adapters.http.problems import ProblemError
from routing.principals import Principal, PrincipalsFile

BEARER_SCHEME = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="A token from `meldingshub credentials add`, sent as `Authorization: Bearer`.",
)

OnRefused = Callable[[str], None]
"""Told ``"missing"`` or ``"invalid"`` for each refused request (metrics)."""


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthenticated",
        "authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="meldingshub"'},
    )


def bearer_principal(
    principals: PrincipalsFile, on_refused: OnRefused | None = None
) -> Callable[..., Principal]:
    """A FastAPI dependency resolving the request's bearer token to its principal.

    Use it as ``principal: Annotated[Principal, Depends(bearer_principal(source))]``;
    a missing or unknown token raises a 401 problem (rendered as problem+json by
    routes built with :class:`~broker_adapters.http.problems.ProblemRoute`).
    """

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
    ) -> Principal:
        if credentials is None or not credentials.credentials:
            if on_refused is not None:
                on_refused("missing")
            raise _unauthorized("send the principal's token as 'Authorization: Bearer <token>'")
        principal = principals.current().authenticate(credentials.credentials)
        if principal is None:
            if on_refused is not None:
                on_refused("invalid")
            raise _unauthorized(
                "the bearer token is not known to the hub; "
                "ask the operator for one (meldingshub credentials add)"
            )
        return principal

    return authenticate
