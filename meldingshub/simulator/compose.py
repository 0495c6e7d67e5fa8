"""Composing simulated documents: the message of a planned slot, a re-send, an AppRec.

The composer picks the version, the sender and the receiver from the register
(by the mix's addressing preferences), renders the document with its faults,
writes down the :class:`~meldingshub.simulator.expectations.Expectation`, and
schedules the receiver's AppRec where the original asks for one. It remembers
recent messages to re-send them (duplicates) and questions to answer them
(``DIALOG_SVAR`` in the same conversation). Every draw comes from the shared
random generator, so a seed gives the same documents.
"""

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

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
from meldingshub.simulator.expectations import (
    APPREC_COLUMN,
    UNREADABLE,
    Dims,
    Expectation,
    Outgoing,
)
from meldingshub.simulator.faults import (
    EXPECTED_CODE,
    INGRESS_REFUSAL,
    FaultKind,
    bad_msg_id,
    truncate,
    unknown_her_id,
)
from meldingshub.simulator.mix import Flow, Mix
from meldingshub.simulator.parties import AddressBook
from meldingshub.simulator.plan import Slot, weighted
from meldingshub.simulator.provision import principal_name
from schemas.catalogue import CatalogueEntry
from schemas.vocabulary import AddressingMode, Category, Family

_APPREC_ERRORS = ("E30", "E35", "E53")
_MEDIAN_PARAGRAPHS = {
    Family.PLO: 14, Family.DIALOG: 5, Family.BASIS: 10, Family.ERESEPT: 8, Family.OTHER: 10,
}  # fmt: skip
_TYPE_PARAGRAPHS = {"EPIKRISE": 30, "HENVISNING": 20, "ERM92": 25, "UTSKRIVNINGSRAPPORT": 30}
_RECENT = 2000
"""How many recent messages a re-send or an answer may refer back to."""


class SimulatorError(MeldingshubError):
    """The mix cannot be simulated over this register (a flow has no senders or receivers)."""


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


class Composer:
    """Builds the documents of one run and keeps what later documents refer back to."""

    def __init__(
        self,
        index: RegisterIndex,
        mix: Mix,
        rng: random.Random,
        book: AddressBook,
        principals: Principals | None,
        apprec_delay_s: tuple[float, float],
    ) -> None:
        self.index = index
        self.mix = mix
        self.rng = rng
        self.book = book
        self.principals = principals
        self.apprec_delay_s = apprec_delay_s
        self._owner: dict[int, str] = {}
        if principals is not None:
            for principal in principals:
                for her_id in principal.her_ids:
                    self._owner.setdefault(her_id, principal.name)
        self._pending: list[tuple[datetime, int, Outgoing]] = []
        self._sequence = itertools.count()
        self._recent: deque[_Sent] = deque(maxlen=_RECENT)
        self._questions: dict[tuple[str, str], deque[_Sent]] = {}

    def due(self, until: datetime | None) -> Iterator[Outgoing]:
        """AppRecs whose time has come (all of them when ``until`` is None)."""
        while self._pending and (until is None or self._pending[0][0] <= until):
            yield heapq.heappop(self._pending)[2]

    def compose(self, slot: Slot) -> Iterator[Outgoing]:
        """The document of ``slot``: a re-send of a recent message, or a new one."""
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
        first = weighted(self.rng, usable)
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
            mode = weighted(self.rng, options)
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

    def _message(self, slot: Slot, flow: Flow) -> Outgoing:
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

    def _resend(self, slot: Slot) -> Outgoing:
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
        status = weighted(rng, self.mix.apprec_status)
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
