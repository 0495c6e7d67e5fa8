"""The router's work per message, stage by stage, without Kafka: where a router core goes.

Over the routable corpus documents (the pipeline benchmark's mix), one core and CPU
time, each stage measured on its own: reading (parse, envelope, validation), the
decision, building the outputs, and Avro encoding of every output record. The sum is
what one router core can do at most; its ratio to reading alone is the ceiling of
``pipeline.py``'s end-to-end ratio (the transaction, the broker and the correlation
follower come on top).

Run: ``.venv/bin/python bench/router_work.py`` (``make bench`` runs it).
"""

import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from access.principals import Principal, Principals  # noqa: E402
from routing.outputs import OutputBuilder, Outputs  # noqa: E402
from routing.pipeline import decide  # noqa: E402
from routing.settings import RoutingSettings  # noqa: E402
from schemas.reader import MessageReader, ReadResult  # noqa: E402
from schemas.records import InboundMessage, PayloadRef, encode  # noqa: E402
from schemas.settings import SchemaSettings  # noqa: E402
from schemas.vocabulary import Family  # noqa: E402
from tests.support.corpus_register import accepted_samples, consistent, register_for  # noqa: E402

SECONDS_PER_STAGE = 2.0
TARGET = 0.5


def rate(work: Callable[[int], object], count: int) -> float:
    """Items per CPU second, whole passes over ``count`` items for about a stage's time."""
    for item in range(count):
        work(item)
    done, start = 0, time.process_time()
    while time.process_time() - start < SECONDS_PER_STAGE:
        for item in range(count):
            work(item)
        done += count
    return done / (time.process_time() - start)


def main() -> int:
    """Print each stage's rate and share of a router core."""
    reader = MessageReader(SchemaSettings())
    samples = [
        s
        for s in consistent(accepted_samples(reader))
        if s.envelope.family is not Family.APPREC and len(s.raw) <= 200_000
    ]
    if not samples:
        print("skipped: no corpus")
        return 0
    register = register_for(samples)
    senders = frozenset(party.her_id for party in register)
    principals = Principals([Principal("epj", senders)])
    builder = OutputBuilder(RoutingSettings(), Principals())
    now = datetime.now(UTC)
    raws = [s.raw for s in samples]
    inbound = [
        InboundMessage(
            hub_message_id=uuid.uuid4(),
            adapter="bench",
            principal="epj",
            received_at=now,
            size_bytes=len(raw),
        )
        for raw in raws
    ]
    reads: list[ReadResult] = [reader.read(raw) for raw in raws]

    def decision(i: int) -> object:
        return decide(reads[i], inbound[i], register, principals, lambda _key: None, now)

    decisions = [decision(i) for i in range(len(raws))]

    def build(i: int) -> Outputs:
        where = PayloadRef("hub.inbound", 0, i)
        return builder.build(
            decisions[i],  # type: ignore[arg-type]
            inbound[i],
            raws[i],
            register,
            now,
            None,
            principals,
            payload_at=where,
        )

    outputs = [build(i) for i in range(len(raws))]

    def encode_all(i: int) -> None:
        found = outputs[i]
        for routed in found.routed:
            encode(routed)
        if found.rejected is not None:
            encode(found.rejected)
        for event in found.events:
            encode(event)

    records = sum(len(o.routed) + len(o.events) + (o.rejected is not None) for o in outputs) / len(
        outputs
    )
    stages = {
        "read (parse, envelope, validation)": rate(lambda i: reader.read(raws[i]), len(raws)),
        "decide": rate(decision, len(raws)),
        "build outputs": rate(build, len(raws)),
        f"Avro encoding ({records:.1f} records per message)": rate(encode_all, len(raws)),
    }
    print(f"mix: {len(raws)} routable corpus documents, one core (CPU time)")
    seconds = {name: 1 / per_second for name, per_second in stages.items()}
    total = sum(seconds.values())
    for name, per_second in stages.items():
        share = seconds[name] / total
        print(f"  {name:<46} {per_second:>9,.0f} msg/s   {share:5.0%} of the router's work")
    ceiling = (1 / total) / stages["read (parse, envelope, validation)"]
    print(f"  {'all stages':<46} {1 / total:>9,.0f} msg/s")
    verdict = "OK" if ceiling >= TARGET else "not met"
    print(
        f"TARGET router work without Kafka / read rate: {ceiling:.2f} "
        f"(target >= {TARGET}, a ceiling for pipeline.py) {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
