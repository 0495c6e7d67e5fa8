"""The traffic generator: turns a mix into a time-ordered stream of documents and their truth.

Three shapes of traffic, all deterministic for a seed:

* :meth:`Traffic.year`: a national year at a scale, with exact quotas per flow,
  month and type (largest-remainder rounding), so the statistics of the year
  reproduce the mix's figures divided by the scale; times are spread over
  working hours and days of each month.
* :meth:`Traffic.messages`: ``count`` messages in the mix's proportions.
* :meth:`Traffic.stream`: an endless stream sampled from the mix (``make run``).

Each :class:`Outgoing` carries the document, the principal that sends it, the
ingress time and the :class:`Expectation`: which export cells the hub must
count it in, and with which AppRec code it must be rejected. Receivers answer
messages that ask for it with an AppRec some time later, in the AppRec version
that answers the original's standard.

This module plans and emits, in time order; the parts live beside it:
:mod:`~meldingshub.simulator.plan` (quotas and times),
:mod:`~meldingshub.simulator.compose` (the documents),
:mod:`~meldingshub.simulator.expectations` (what the hub must count) and
:mod:`~meldingshub.simulator.provision` (the principals). Their names are
re-exported here.
"""

import itertools
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from access.principals import Principals
from addressregister.index import RegisterIndex
from meldingshub.simulator.compose import Composer, SimulatorError
from meldingshub.simulator.expectations import (
    APPREC_COLUMN,
    UNREADABLE,
    Column,
    Dims,
    Expectation,
    Outgoing,
)
from meldingshub.simulator.faults import FaultKind
from meldingshub.simulator.mix import MONTHS, Mix
from meldingshub.simulator.parties import AddressBook
from meldingshub.simulator.plan import (
    Slot,
    largest_remainder,
    times_in_month,
    weighted,
    year_plan,
)
from meldingshub.simulator.provision import principal_name, principals_for, provision

__all__ = [
    "APPREC_COLUMN",
    "UNREADABLE",
    "Column",
    "Dims",
    "Expectation",
    "Outgoing",
    "SimulatorError",
    "Traffic",
    "largest_remainder",
    "principal_name",
    "principals_for",
    "provision",
    "year_plan",
]


class Traffic:
    """Generates the simulated traffic of a mix over a register; one instance per run."""

    def __init__(
        self,
        index: RegisterIndex,
        mix: Mix,
        *,
        seed: int,
        fault_rate: float = 0.0,
        principals: Principals | None = None,
        zone: ZoneInfo | None = None,
        apprec_delay_s: tuple[float, float] = (1.0, 10.0),
        at: datetime | None = None,
    ) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise SimulatorError(f"fault rate {fault_rate} is not between 0 and 1")
        self.index = index
        self.mix = mix
        self.zone = zone or ZoneInfo("Europe/Oslo")
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)  # noqa: S311 - reproducible synthetic traffic, not secrets
        self.book = AddressBook(index, at or datetime.now(UTC))
        self.apprec_delay_s = apprec_delay_s
        self.principals = principals
        faults = [(FaultKind(kind), share) for kind, share in mix.faults]
        if principals is None:  # an open hub cannot tell a spoofed sender from a real one
            faults = [
                (kind, share) for kind, share in faults if kind is not FaultKind.SPOOFED_SENDER
            ]
        self._faults = faults or [(FaultKind.INVALID, 1.0)]
        self._flow_weights = [(i, float(f.total)) for i, f in enumerate(mix.flows)]
        self._composer = Composer(index, mix, self.rng, self.book, principals, apprec_delay_s)

    # -- the three shapes of traffic --------------------------------------------------------

    def year(self, year: int, scale: int) -> Iterator[Outgoing]:
        """A national year at 1:``scale``, month by month, in time order."""
        if scale < 1:
            raise SimulatorError(f"scale 1:{scale} is not a positive ratio")
        plan = year_plan(self.mix, scale)
        for month in range(1, MONTHS + 1):
            slots: list[tuple[int, str, FaultKind | None]] = []
            for index, flow in enumerate(self.mix.flows):
                for (message_type, _), count in zip(
                    flow.types, plan[index][month - 1], strict=True
                ):
                    slots.extend([(index, message_type, None)] * count)
            for _ in range(round(self.fault_rate * len(slots))):
                slots.append(self._fault_slot())
            times = self._times_in_month(year, month, len(slots))
            self.rng.shuffle(slots)
            planned = sorted(
                (Slot(when, flow, kind, fault) for when, (flow, kind, fault) in zip(
                    times, slots, strict=True)),
                key=lambda slot: slot.when,
            )  # fmt: skip
            yield from self._emit(planned)
        yield from self._drain(None)

    def messages(
        self, count: int, start: datetime, rate: float | None = None
    ) -> Iterator[Outgoing]:
        """``count`` messages in the mix's proportions, ``1/rate`` seconds apart from ``start``."""
        faults = round(self.fault_rate * count)
        valid = count - faults
        per_flow = largest_remainder(valid, [w for _, w in self._flow_weights])
        slots: list[tuple[int, str, FaultKind | None]] = []
        for index, flow in enumerate(self.mix.flows):
            counts = largest_remainder(per_flow[index], [w for _, w in flow.types])
            for (message_type, _), n in zip(flow.types, counts, strict=True):
                slots.extend([(index, message_type, None)] * n)
        slots.extend(self._fault_slot() for _ in range(faults))
        self.rng.shuffle(slots)
        step = timedelta(seconds=1.0 / rate if rate else 0.01)
        local = start.astimezone(self.zone)
        planned = [
            Slot(local + i * step, flow, kind, fault) for i, (flow, kind, fault) in enumerate(slots)
        ]
        yield from self._emit(planned)
        yield from self._drain(None)

    def stream(self, start: datetime, rate: float) -> Iterator[Outgoing]:
        """An endless stream sampled from the mix, ``1/rate`` seconds apart from ``start``."""
        step = timedelta(seconds=1.0 / rate)
        local = start.astimezone(self.zone)
        for i in itertools.count():
            if self.rng.random() < self.fault_rate:
                flow, kind, fault = self._fault_slot()
            else:
                flow = weighted(self.rng, self._flow_weights)
                kind, fault = weighted(self.rng, self.mix.flows[flow].types), None
            yield from self._emit([Slot(local + i * step, flow, kind, fault)])

    # -- planning -------------------------------------------------------------------------------

    def _fault_slot(self) -> tuple[int, str, FaultKind]:
        flow = weighted(self.rng, self._flow_weights)
        kind = weighted(self.rng, self.mix.flows[flow].types)
        return flow, kind, weighted(self.rng, self._faults)

    def _times_in_month(self, year: int, month: int, count: int) -> list[datetime]:
        return times_in_month(self.rng, self.zone, year, month, count)

    # -- emitting -------------------------------------------------------------------------------

    def _emit(self, slots: Iterable[Slot]) -> Iterator[Outgoing]:
        for slot in slots:
            yield from self._composer.due(slot.when)
            yield from self._composer.compose(slot)

    def _drain(self, until: datetime | None) -> Iterator[Outgoing]:
        """AppRecs whose time has come (all of them when ``until`` is None)."""
        return self._composer.due(until)
