"""Bearer-token authentication for the hub's HTTP APIs: ``Authorization: Bearer <token>``.

Tokens are looked up by their hash in the principals file (see
:mod:`access.principals`), so the hub never stores a usable token. Every API
that serves a principal (message submission, status, the receivers' mailbox)
uses :func:`bearer_principal` as a FastAPI dependency and gets the
:class:`~access.principals.Principal` or a 401 problem detail.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from access.principals import Principal, Role
from access.principals_file import PrincipalsFile
from hubcore.problems import ProblemError

BEARER_SCHEME = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="A token from `meldingshub credentials add`, sent as `Authorization: Bearer`.",
)

OnRefused = Callable[[str], None]
"""Told ``"missing"``, ``"invalid"`` or ``"forbidden"`` for each refused request (metrics)."""


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthenticated",
        "authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="meldingshub"'},
    )


def bearer_principal(
    principals: PrincipalsFile, *roles: Role, on_refused: OnRefused | None = None
) -> Callable[..., Principal]:
    """A FastAPI dependency resolving the request's bearer token to a principal with one of
    ``roles``.

    Use it as ``principal: Annotated[Principal, Depends(bearer_principal(source, role))]``;
    a missing or unknown token raises a 401 problem, a principal without a role a
    403 (rendered as problem+json by routes built with
    :class:`~hubcore.problems.ProblemRoute`).
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
        if not any(principal.has(role) for role in roles):
            if on_refused is not None:
                on_refused("forbidden")
            needed = " or ".join(repr(role.value) for role in roles)
            raise ProblemError(
                403,
                "forbidden",
                "role required",
                f"this API needs the {needed} role, which the principal does not have "
                f"(meldingshub credentials add --role {roles[0].value})",
            )
        return principal

    return authenticate
