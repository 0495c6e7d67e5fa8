"""The national register, its principals and the hub's pure pipeline, for the simulator tests."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from access.principals import Principals
from addressregister.generator import generate_national_register
from addressregister.index import RegisterIndex
from meldingshub.simulator.traffic import Dims, Outgoing, principals_for
from routing.outputs import OutputBuilder
from routing.pipeline import decide
from routing.settings import RoutingSettings
from schemas.outcomes import outcome_of
from schemas.reader import MessageReader
from schemas.records import InboundMessage, MessageEvent
from schemas.settings import SchemaSettings

START = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
"""A fixed start, so generated traffic is reproducible."""


@pytest.fixture(scope="session")
def register() -> RegisterIndex:
    """The embedded default's synthetic national register."""
    return RegisterIndex(generate_national_register(2019))


@pytest.fixture(scope="session")
def principals(register: RegisterIndex) -> Principals:
    """One principal per organisation, as a hub that checks senders has them."""
    return principals_for(register)


@pytest.fixture(scope="session")
def reader() -> MessageReader:
    return MessageReader(SchemaSettings())


@dataclass(frozen=True, slots=True)
class Routed:
    """What the hub's pure pipeline made of one document."""

    outgoing: Outgoing
    events: tuple[MessageEvent, ...]
    counts: tuple[tuple[Dims, str], ...]
    """(dimensions, export column) of every event except the hub's own AppRec."""
    code: str | None
    hub_apprec_to: str | None


def route(
    documents: Iterable[Outgoing],
    register: RegisterIndex,
    principals: Principals,
    reader: MessageReader,
) -> list[Routed]:
    """Run the router's decision and output building (no broker) over ``documents``."""
    builder = OutputBuilder(RoutingSettings(), principals)
    seen: dict[str, str] = {}
    results = []
    for outgoing in documents:
        inbound = InboundMessage(
            hub_message_id=outgoing.hub_message_id,
            adapter="kafka",
            principal=outgoing.principal,
            received_at=outgoing.received_at,
            size_bytes=len(outgoing.raw),
        )
        now = datetime.now(UTC)
        decision = decide(reader.read(outgoing.raw), inbound, register, principals, seen.get, now)
        out = builder.build(decision, inbound, outgoing.raw, register, now)
        if out.remember is not None:
            seen[out.remember[0]] = out.remember[1]
        counts = []
        hub_apprec_to = None
        for event in out.events:
            if event.adapter == "hub":
                hub_apprec_to = event.receiver_category.value
                continue
            outcome = outcome_of(
                event.event_type, is_copy=event.is_copy, apprec_status=event.apprec_status
            )
            column = "duplicates" if outcome.value == "duplicate" else outcome.value
            dims = Dims(
                event.family.value,
                event.message_type,
                event.sender_category.value,
                event.receiver_category.value,
                event.addressing_mode.value,
            )
            counts.append((dims, column))
        code = out.rejected.code.value if out.rejected is not None else None
        results.append(Routed(outgoing, tuple(out.events), tuple(counts), code, hub_apprec_to))
    return results
