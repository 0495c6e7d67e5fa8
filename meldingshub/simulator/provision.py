"""The principals a simulation sends as: one per top-level organisation, with tokens."""

from dataclasses import replace

from access.principals import Principals
from addressregister.index import RegisterIndex
from addressregister.model import PartyKind


def principal_name(organisation_her_id: int) -> str:
    """The principal a simulated organisation sends as (one per top-level organisation)."""
    return f"her-{organisation_her_id}"


def principals_for(index: RegisterIndex) -> Principals:
    """One principal per top-level organisation of the register, allowed to send for it."""
    from access.principals import Principal

    return Principals(
        Principal(principal_name(party.her_id), frozenset({party.her_id}))
        for party in index
        if party.parent_her_id is None and party.kind is PartyKind.ORGANISATION
    )


def provision(index: RegisterIndex) -> tuple[Principals, dict[str, str]]:
    """Principals for every organisation with a fresh bearer token each, and the tokens.

    The hub keeps the principals (token hashes only); the simulator keeps the tokens
    to send ``--via http``. Each also gets AMQP queues of its own for ``--via amqp``,
    named apart from the ``<HerId>_async`` queues delivery writes to, so the hub never
    takes its own deliveries back in.
    """
    from access.tokens import new_token, token_hash

    tokens: dict[str, str] = {}
    provisioned = []
    for principal in principals_for(index):
        token = tokens[principal.name] = new_token()
        provisioned.append(
            replace(
                principal,
                token_hashes=frozenset({token_hash(token)}),
                amqp_inbound_queue=f"{principal.name}.to-hub",
                amqp_error_queue=f"{principal.name}.to-hub.error",
            )
        )
    return Principals(provisioned), tokens
