"""Who calls the MSH API: a :class:`Caller`, made by an :class:`Authenticator` for a scheme.

The routes never look at credentials: they ask the authenticator registered for
the request's ``Authorization`` scheme for a caller and decide on its HER-ids
and roles. :class:`BearerAuthenticator` serves the principals file's bearer
tokens. HelseID (``Authorization: DPoP <token>`` plus a ``DPoP`` proof) plugs in
as another authenticator for the ``DPoP`` scheme; :func:`helseid_caller` turns
its verified claims (organisation numbers, optional HER-id claim) into a caller
through the address register.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from access.errors import HelseIdRefused
from access.helseid import HelseIdVerifier
from access.principals import Principal, Role
from access.principals_file import PrincipalsFile
from addressregister.index import RegisterIndex, Snapshots
from routing.authorisation import helseid_principal_name, organisation_parties


class NotAuthenticated(Exception):  # noqa: N818 - reads as the outcome it is
    """The credentials are missing or not accepted; the text is safe to return.

    ``status`` is 401 unless the scheme says otherwise (HelseID: 403 for a token without
    the API's audience or scope, 503 while the issuer's keys cannot be had); ``headers``
    go on the answer (``WWW-Authenticate``, ``DPoP-Nonce``, ``Retry-After``).
    """

    def __init__(
        self, text: str, status: int = 401, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(text)
        self.status = status
        self.headers: Mapping[str, str] = dict(headers or {})


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated client system: what it may send and read for, in which roles."""

    name: str
    """Stable name (principal, or HelseID client); recorded as the message's principal."""
    send_her_ids: frozenset[int]
    """Parties it may send as (and everything below them in the register)."""
    read_her_ids: frozenset[int]
    """Parties whose received messages it may read and answer (and everything below them)."""
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        """True when the caller was given ``role``."""
        return role in self.roles

    def may_read(self, her_id: int, register: RegisterIndex) -> bool:
        """True when ``her_id`` is one of the caller's readable parties or lies below one."""
        return her_id in self.read_her_ids or bool(
            register.ancestors_of(her_id) & self.read_her_ids
        )

    def principal(self) -> Principal:
        """The caller as the ingress gate authorises senders: its send HER-ids and roles."""
        return Principal(self.name, self.send_her_ids, roles=self.roles)


class Authenticator(Protocol):
    """Turns the credentials of one ``Authorization`` scheme into a caller."""

    scheme: str
    """The scheme it serves, lower case (``bearer``, ``dpop``)."""

    def authenticate(self, credentials: str, request: Request) -> Caller:
        """The caller; raises :class:`NotAuthenticated` for credentials it does not accept."""
        ...


class BearerAuthenticator:
    """The principals file's bearer tokens (``meldingshub credentials add``)."""

    scheme = "bearer"

    def __init__(self, principals: PrincipalsFile) -> None:
        self._principals = principals

    def authenticate(self, credentials: str, request: Request) -> Caller:
        """The token's principal, acting for its HER-ids in its roles."""
        principal = self._principals.current().authenticate(credentials.strip())
        if principal is None:
            raise NotAuthenticated("the bearer token is not known to the hub")
        return Caller(
            name=principal.name,
            send_her_ids=principal.her_ids,
            read_her_ids=principal.her_ids,
            roles=principal.roles,
        )


def authenticators(*items: Authenticator) -> Mapping[str, Authenticator]:
    """Authenticators by scheme; one per scheme."""
    by_scheme: dict[str, Authenticator] = {}
    for item in items:
        if item.scheme in by_scheme:
            raise ValueError(f"two authenticators for the {item.scheme!r} scheme")
        by_scheme[item.scheme] = item
    return by_scheme


def helseid_caller(
    name: str,
    organisation_number: str,
    child_organisation_number: str | None,
    her_id_claim: frozenset[int] | None,
    register: RegisterIndex,
    roles: frozenset[Role] = frozenset({Role.SENDER, Role.RECEIVER}),
) -> Caller:
    """A HelseID client's caller: the HER-ids of its organisation (``orgnr_parent``) and
    its sub-units; with ``orgnr_child``, only the child's, and only where the child lies
    within the parent in the register; narrowed to ``her_id_claim`` and what lies below it
    when the token carries ``nhn:msh/client/claims/herid``. No HER-id left: every HER-id
    check then answers 403 "Not authorized for HerId(s)"."""
    parties = set(organisation_parties(register, organisation_number))
    if child_organisation_number is not None:
        parent = frozenset(parties)
        parties = {
            h
            for h in organisation_parties(register, child_organisation_number)
            if h in parent or register.ancestors_of(h) & parent
        }
    if her_id_claim is not None:
        parties = {
            h for h in parties if h in her_id_claim or register.ancestors_of(h) & her_id_claim
        }
    allowed = frozenset(parties)
    return Caller(name=name, send_her_ids=allowed, read_her_ids=allowed, roles=roles)


class HelseIdAuthenticator:
    """HelseID access tokens bound to a DPoP proof (``Authorization: DPoP <token>``)."""

    scheme = "dpop"

    def __init__(self, verifier: HelseIdVerifier, register: Snapshots) -> None:
        self._verifier = verifier
        self._register = register

    def authenticate(self, credentials: str, request: Request) -> Caller:
        """The verified client, acting for its organisation's HER-ids in the register."""
        try:
            identity = self._verifier.verify(
                request.method,
                str(request.url),
                request.headers.get("authorization"),
                request.headers.getlist("dpop"),
            )
        except HelseIdRefused as refused:
            raise NotAuthenticated(refused.detail, refused.status, refused.headers) from None
        except ValueError:  # a request URL the proof's htu cannot be compared with
            raise NotAuthenticated("the request URL cannot carry a DPoP proof") from None
        organisation = identity.child_org_number or identity.org_number
        return helseid_caller(
            helseid_principal_name(organisation, identity.client_id),
            identity.org_number,
            identity.child_org_number,
            identity.her_ids,
            self._register(),
        )
