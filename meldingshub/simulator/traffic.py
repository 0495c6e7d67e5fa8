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
"""

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from access.principals import Principals
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty, PartyKind
from hubcore.errors import MeldingshubError
from meldingshub.simulator.documents import (
    AppRecSpec,
    DocumentSpec,
    NamedParty,
    entry_for,
    eresept_version,
    render,
    render_apprec,
    synthetic_patient,
    versions_for,
)
from meldingshub.simulator.faults import (
    EXPECTED_CODE,
    INGRESS_REFUSAL,
    FaultKind,
    bad_msg_id,
    truncate,
    unknown_her_id,
)
from meldingshub.simulator.mix import MONTHS, Flow, Mix
from meldingshub.simulator.parties import AddressBook
from schemas.catalogue import CatalogueEntry
from schemas.vocabulary import AddressingMode, Category, Family

Column = Literal[
    "accepted", "routed", "rejected", "duplicates", "apprec_ok", "apprec_rejected",
    "apprec_ok_error_in_part",
]  # fmt: skip

APPREC_COLUMN: dict[str, Column] = {
    "1": "apprec_ok",
    "2": "apprec_rejected",
    "3": "apprec_ok_error_in_part",
}
_APPREC_ERRORS = ("E30", "E35", "E53")
_MEDIAN_PARAGRAPHS = {
    Family.PLO: 14, Family.DIALOG: 5, Family.BASIS: 10, Family.ERESEPT: 8, Family.OTHER: 10,
}  # fmt: skip
_TYPE_PARAGRAPHS = {"EPIKRISE": 30, "HENVISNING": 20, "ERM92": 25, "UTSKRIVNINGSRAPPORT": 30}
_HOURS = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 1.0, 3.0, 8.0, 10.0, 10.0, 9.0,
    8.0, 9.0, 9.0, 7.0, 4.0, 2.0, 1.5, 1.2, 1.0, 0.8, 0.5, 0.3,
)  # fmt: skip
"""Relative traffic per hour of the day: office hours, with night-time batches."""
_WEEKDAY = (1.0, 1.0, 1.0, 1.0, 0.95, 0.3, 0.25)
_RECENT = 2000
"""How many recent messages a re-send or an answer may refer back to."""


class SimulatorError(MeldingshubError):
    """The mix cannot be simulated over this register (a flow has no senders or receivers)."""


@dataclass(frozen=True, slots=True)
class Dims:
    """One cell of the statistics export (its dimensions), as the hub must count a message."""

    family: str
    message_type: str
    sender_category: str
    receiver_category: str
    addressing_mode: str


UNREADABLE = Dims(Family.OTHER.value, "UNKNOWN", "ukjent", "ukjent", AddressingMode.NONE.value)
"""Where the hub counts a document it cannot read."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the hub must do with one document."""

    kind: str
    """``message``, ``apprec`` or a :class:`FaultKind`."""
    family: str
    message_type: str
    counts: tuple[tuple[Dims, Column], ...]
    """Export cells (on the day of ingress) and the column each counts in."""
    reason_code: str | None = None
    """The AppRec error code of the router's rejection."""
    hub_apprec_to: str | None = None
    """Category of the organisation the hub's negative AppRec goes to, if it sends one."""
    ingress_refusal: str | None = None
    """Why an ingress adapter that screens documents refuses it (HTTP, AMQP, file)."""
    addressing_mode: str = AddressingMode.NONE.value
    sender_category: str = "ukjent"
    receiver_category: str = "ukjent"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One document to send, who sends it, when the hub receives it and what must happen."""

    raw: bytes = field(repr=False)
    principal: str
    received_at: datetime
    """Ingress time (UTC); adapters that stamp their own use theirs."""
    hub_message_id: UUID
    sender_her_id: int | None
    """The sender organisation the document names (transports that need it, e.g. AMQP)."""
    expectation: Expectation


@dataclass(frozen=True, slots=True)
class _Slot:
    when: datetime
    """Local (aware) ingress time."""
    flow: int
    message_type: str
    fault: FaultKind | None


@dataclass(frozen=True, slots=True)
class _Sent:
    """A routed message the simulator may re-send or answer."""

    raw: bytes = field(repr=False)
    principal: str
    sender: NamedParty
    receiver: NamedParty
    env: Dims
    family: str
    message_type: str
    msg_id: str
    version: str


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


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, in integers that add up exactly."""
    whole = sum(weights)
    if total <= 0 or whole <= 0:
        return [0] * len(weights)
    shares = [total * w / whole for w in weights]
    counts = [math.floor(s) for s in shares]
    rest = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    for i in order[:rest]:
        counts[i] += 1
    return counts


T = TypeVar("T")


def year_plan(mix: Mix, scale: int) -> list[list[list[int]]]:
    """Messages per flow, month and type of a year at 1:``scale`` (faults and AppRecs apart).

    Published monthly figures are scaled month by month; yearly figures are scaled
    once and spread over the months; each month's count is split over the types.
    Every split is by largest remainder, so the parts add up to the scaled whole.
    """
    plan = []
    for flow in mix.flows:
        if flow.monthly:
            months = [round(n / scale) for n in flow.monthly]
        else:
            months = largest_remainder(round(flow.yearly / scale), flow.per_month())
        weights = [w for _, w in flow.types]
        plan.append([largest_remainder(n, weights) for n in months])
    return plan


def _weighted(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


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
        self._owner: dict[int, str] = {}
        if principals is not None:
            for principal in principals:
                for her_id in principal.her_ids:
                    self._owner.setdefault(her_id, principal.name)
        faults = [(FaultKind(kind), share) for kind, share in mix.faults]
        if principals is None:  # an open hub cannot tell a spoofed sender from a real one
            faults = [
                (kind, share) for kind, share in faults if kind is not FaultKind.SPOOFED_SENDER
            ]
        self._faults = faults or [(FaultKind.INVALID, 1.0)]
        self._pending: list[tuple[datetime, int, Outgoing]] = []
        self._sequence = itertools.count()
        self._recent: deque[_Sent] = deque(maxlen=_RECENT)
        self._questions: dict[tuple[str, str], deque[_Sent]] = {}
        self._flow_weights = [(i, float(f.total)) for i, f in enumerate(mix.flows)]

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
                (_Slot(when, flow, kind, fault) for when, (flow, kind, fault) in zip(
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
            _Slot(local + i * step, flow, kind, fault)
            for i, (flow, kind, fault) in enumerate(slots)
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
                flow = _weighted(self.rng, self._flow_weights)
                kind, fault = _weighted(self.rng, self.mix.flows[flow].types), None
            yield from self._emit([_Slot(local + i * step, flow, kind, fault)])

    # -- planning -------------------------------------------------------------------------------

    def _fault_slot(self) -> tuple[int, str, FaultKind]:
        flow = _weighted(self.rng, self._flow_weights)
        kind = _weighted(self.rng, self.mix.flows[flow].types)
        return flow, kind, _weighted(self.rng, self._faults)

    def _times_in_month(self, year: int, month: int, count: int) -> list[datetime]:
        first = date(year, month, 1)
        days = [
            first + timedelta(days=n)
            for n in range(31)
            if (first + timedelta(days=n)).month == month
        ]
        day_weights = [_WEEKDAY[d.weekday()] for d in days]
        picked_days = self.rng.choices(days, weights=day_weights, k=count)
        hours = self.rng.choices(range(24), weights=_HOURS, k=count)
        return [
            datetime(d.year, d.month, d.day, h, tzinfo=self.zone)
            + timedelta(seconds=self.rng.randrange(3600))
            for d, h in zip(picked_days, hours, strict=True)
        ]

    # -- emitting -------------------------------------------------------------------------------

    def _emit(self, slots: Iterable[_Slot]) -> Iterator[Outgoing]:
        for slot in slots:
            yield from self._drain(slot.when)
            yield from self._generate(slot)

    def _drain(self, until: datetime | None) -> Iterator[Outgoing]:
        """AppRecs whose time has come (all of them when ``until`` is None)."""
        while self._pending and (until is None or self._pending[0][0] <= until):
            yield heapq.heappop(self._pending)[2]

    def _generate(self, slot: _Slot) -> Iterator[Outgoing]:
        flow = self.mix.flows[slot.flow]
        if slot.fault is FaultKind.RESEND:
            if self._recent:
                yield self._resend(slot)
                return
            slot = replace(slot, fault=FaultKind.UNKNOWN_RECEIVER)
        yield self._message(slot, flow)

    def _uuid(self) -> str:
        return str(UUID(int=self.rng.getrandbits(128), version=4))

    def _principal(self, organisation: int) -> str:
        if self.principals is None:
            return principal_name(organisation)
        owner = self._owner.get(organisation)
        if owner is None:
            raise SimulatorError(
                f"no principal may send for organisation {organisation}; give every simulated "
                "organisation a principal (meldingshub.simulator.traffic.principals_for)"
            )
        return owner

    def _category(self, her_id: int) -> str:
        return self.book.category(her_id).value

    def _env(
        self, family: str, message_type: str, sender: NamedParty, receiver: NamedParty
    ) -> Dims:
        """Dimensions of the accepted, rejected and duplicate events: organisation categories."""
        return Dims(
            family,
            message_type,
            self._category(sender.organisation.her_id),
            self._category(receiver.organisation.her_id),
            receiver.mode.value,
        )

    def _choose_version(self, flow: Flow, message_type: str) -> list[tuple[str, CatalogueEntry]]:
        """Versions to try for ``message_type``, the mix's choice first."""
        family = flow.family
        if family is Family.ERESEPT:
            entry = entry_for(message_type, "", family)
            return [(eresept_version(message_type), entry)]
        if family is Family.OTHER:
            entry = entry_for(message_type, "", family)
            return [(entry.version, entry)]
        available = versions_for(message_type, family)
        standard = entry_for(message_type, available[0], family).standard
        weights = dict(self.mix.versions.get(standard, ()))
        usable = [(v, weights.get(v, 0.0)) for v in available if weights.get(v, 0.0) > 0]
        if not usable:
            usable = [(v, 1.0) for v in available]
        first = _weighted(self.rng, usable)
        ordered = [first, *(v for v, _ in sorted(usable, key=lambda u: -u[1]) if v != first)]
        return [(v, entry_for(message_type, v, family)) for v in ordered]

    def _pick(
        self,
        category: Category,
        message_type: str,
        version: str,
        preferences: Sequence[tuple[AddressingMode, float]],
        *,
        sending: bool,
        avoid: int | None = None,
    ) -> NamedParty | None:
        lookup = self.book.senders if sending else self.book.receivers
        by_mode = {
            mode: lookup(category, message_type, version, mode)
            for mode in (AddressingMode.ORGANISATION, AddressingMode.SERVICE, AddressingMode.PERSON)
        }
        options = [(mode, w) for mode, w in preferences if by_mode[mode]]
        if options:
            mode = _weighted(self.rng, options)
        else:
            present = [mode for mode, found in by_mode.items() if found]
            if not present:
                return None
            mode = present[0]
        candidates = by_mode[mode]
        for _ in range(4):
            chosen = self.rng.choice(candidates)
            if chosen.organisation.her_id != avoid:
                return chosen
        return chosen

    def _parties(
        self, flow: Flow, message_type: str, version: str
    ) -> tuple[NamedParty, NamedParty] | None:
        default = ((AddressingMode.ORGANISATION, 1.0),)
        sender = self._pick(
            flow.sender, message_type, version,
            self.mix.sender_levels.get(flow.sender, default), sending=True,
        )  # fmt: skip
        if sender is None:
            return None
        receiver = self._pick(
            flow.receiver, message_type, version,
            self.mix.receiver_modes.get(flow.receiver, default), sending=False,
            avoid=sender.organisation.her_id,
        )  # fmt: skip
        if receiver is None:
            return None
        return sender, receiver

    def _answer(self, flow: Flow, version: str) -> tuple[NamedParty, NamedParty, str] | None:
        """A question from the receiver's side of this flow that the sender now answers."""
        waiting = self._questions.get((flow.receiver.value, flow.sender.value))
        while waiting:
            question = waiting.popleft()
            if question.version != version:
                continue
            sender, receiver = question.receiver, question.sender
            if self.book.may_send(sender, "DIALOG_SVAR", version) and self.book.accepts(
                receiver, "DIALOG_SVAR", version
            ):
                return sender, receiver, question.msg_id
        return None

    def _message(self, slot: _Slot, flow: Flow) -> Outgoing:
        rng = self.rng
        message_type, fault = slot.message_type, slot.fault
        family = flow.family
        chosen: tuple[str, CatalogueEntry, NamedParty, NamedParty] | None = None
        conversation: tuple[str, str] | None = None
        for version, entry in self._choose_version(flow, message_type):
            if message_type == "DIALOG_SVAR":
                answer = self._answer(flow, version)
                if answer is not None:
                    conversation = (answer[2], answer[2])
                    chosen = (version, entry, answer[0], answer[1])
                    break
            parties = self._parties(flow, message_type, version)
            if parties is not None:
                chosen = (version, entry, *parties)
                break
        if chosen is None:
            raise SimulatorError(
                f"the register has no {flow.sender.value} that sends {message_type} to a "
                f"{flow.receiver.value} that accepts it"
            )
        version, entry, sender, receiver = chosen
        if message_type == "DIALOG_SVAR" and conversation is None:
            reference = self._uuid()
            conversation = (reference, reference)
        true_receiver = receiver
        if fault is FaultKind.UNKNOWN_RECEIVER:
            her_id = unknown_her_id(rng, self.index)
            receiver = NamedParty(
                CommunicationParty(her_id=her_id, kind=PartyKind.ORGANISATION, name="Nedlagt enhet")
            )
        msg_id = bad_msg_id(rng) if fault is FaultKind.BAD_MSG_ID else self._uuid()
        median = _TYPE_PARAGRAPHS.get(message_type, _MEDIAN_PARAGRAPHS[family])
        attachment = 0
        if (
            entry.container == "msghead"
            and family in (Family.DIALOG, Family.PLO, Family.BASIS)
            and rng.random() < self.mix.attachment_share
        ):
            attachment = min(int(rng.lognormvariate(math.log(80_000), 1.0)), 3_000_000)
        spec = DocumentSpec(
            entry=entry,
            message_type=message_type,
            version=version,
            msg_id=msg_id,
            gen_date=slot.when - timedelta(seconds=rng.randint(1, 120)),
            sender=sender,
            receiver=receiver,
            patient=synthetic_patient(rng),
            ack=rng.random() < self.mix.ack_share.get(family, 0.0),
            encoding="ISO-8859-1" if rng.random() < self.mix.iso_8859_1_share else "UTF-8",
            paragraphs=max(1, min(400, int(rng.lognormvariate(math.log(median), 0.5)))),
            attachment_bytes=attachment,
            conversation=conversation,
            omit_mig_version=fault is FaultKind.INVALID,
        )
        raw = render(spec, rng)
        principal = self._principal(sender.organisation.her_id)
        env = self._env(family.value, message_type, sender, receiver)
        received_at = slot.when.astimezone(UTC)
        base = Expectation(
            "message", family.value, message_type, (), addressing_mode=receiver.mode.value
        )
        if fault is None:
            routed = Dims(
                family.value,
                message_type,
                self._category(sender.most_specific.her_id),
                self._category(receiver.most_specific.her_id),
                receiver.mode.value,
            )
            expectation = replace(
                base,
                counts=((env, "accepted"), (routed, "routed")),
                sender_category=routed.sender_category,
                receiver_category=routed.receiver_category,
            )
            sent = _Sent(
                raw, principal, sender, receiver, env, family.value, message_type, msg_id, version
            )
            self._recent.append(sent)
            if message_type == "DIALOG_FORESPORSEL":
                key = (flow.sender.value, flow.receiver.value)
                self._questions.setdefault(key, deque(maxlen=_RECENT)).append(sent)
            if spec.ack or entry.container == "message":
                self._schedule_apprec(spec, slot.when)
        elif fault is FaultKind.MALFORMED:
            raw = truncate(raw, rng)
            expectation = replace(
                base,
                kind=fault.value,
                counts=((UNREADABLE, "accepted"), (UNREADABLE, "rejected")),
                reason_code=EXPECTED_CODE[fault].value,
                ingress_refusal=INGRESS_REFUSAL[fault],
            )
        elif fault is FaultKind.SPOOFED_SENDER:
            principal, answer_to = self._other_principal(sender, true_receiver)
            expectation = replace(
                base,
                kind=fault.value,
                counts=((env, "accepted"), (env, "rejected")),
                reason_code=EXPECTED_CODE[fault].value,
                hub_apprec_to=self._category(answer_to) if answer_to is not None else None,
                ingress_refusal=INGRESS_REFUSAL[fault],
            )
        else:
            expectation = replace(
                base,
                kind=fault.value,
                counts=((env, "accepted"), (env, "rejected")),
                reason_code=EXPECTED_CODE[fault].value,
                hub_apprec_to=self._category(sender.organisation.her_id),
            )
        return Outgoing(
            raw,
            principal,
            received_at,
            UUID(self._uuid()),
            sender.organisation.her_id,
            expectation,
        )

    def _other_principal(self, sender: NamedParty, receiver: NamedParty) -> tuple[str, int | None]:
        """A principal that may not send for ``sender``, and where the hub's AppRec goes."""
        assert self.principals is not None
        named = {sender.organisation.her_id, sender.most_specific.her_id}
        organisation = receiver.organisation.her_id
        owner = self._owner.get(organisation)
        if owner is not None:
            principal = self.principals.get(owner)
            if principal is not None and not principal.her_ids & named:
                return owner, min(principal.her_ids)
        for principal in self.principals:
            if principal.her_ids and not principal.her_ids & named:
                return principal.name, min(principal.her_ids)
        raise SimulatorError("a spoofed sender needs a second principal")

    def _resend(self, slot: _Slot) -> Outgoing:
        """A message sent again unchanged (same MsgId): the hub counts a duplicate."""
        original = self._recent[self.rng.randrange(len(self._recent))]
        expectation = Expectation(
            FaultKind.RESEND.value,
            family=original.family,
            message_type=original.message_type,
            counts=((original.env, "accepted"), (original.env, "duplicates")),
            addressing_mode=original.env.addressing_mode,
        )
        return Outgoing(
            original.raw,
            original.principal,
            slot.when.astimezone(UTC),
            UUID(self._uuid()),
            original.sender.organisation.her_id,
            expectation,
        )

    def _schedule_apprec(self, original: DocumentSpec, sent_at: datetime) -> None:
        """The receiver answers with an AppRec, mostly OK, some time later."""
        rng = self.rng
        version = original.entry.apprec_version
        if version is None:
            return
        status = _weighted(rng, self.mix.apprec_status)
        low, high = self.apprec_delay_s
        delay = timedelta(seconds=rng.uniform(low, high))
        answering = original.receiver.organisation
        answered = original.sender.organisation
        when = sent_at + delay
        apprec_id = self._uuid()
        raw = render_apprec(
            AppRecSpec(
                version=version,
                apprec_id=apprec_id,
                gen_date=when,
                sender=answering,
                receiver=answered,
                status=status,
                error=None if status == "1" else rng.choice(_APPREC_ERRORS),
                original_type=original.message_type,
                original_gen_date=original.gen_date.replace(tzinfo=None, microsecond=0).isoformat(),
                original_msg_id=original.msg_id,
                organisation_number_first=rng.random() < 0.1,
            )
        )
        dims = Dims(
            Family.APPREC.value,
            "APPREC",
            self._category(answering.her_id),
            self._category(answered.her_id),
            AddressingMode.ORGANISATION.value,
        )
        outgoing = Outgoing(
            raw,
            self._principal(answering.her_id),
            when.astimezone(UTC),
            UUID(self._uuid()),
            answering.her_id,
            Expectation(
                "apprec",
                family=Family.APPREC.value,
                message_type="APPREC",
                counts=((dims, "accepted"), (dims, APPREC_COLUMN[status])),
                addressing_mode=AddressingMode.ORGANISATION.value,
                sender_category=dims.sender_category,
                receiver_category=dims.receiver_category,
            ),
        )
        heapq.heappush(self._pending, (when, next(self._sequence), outgoing))
