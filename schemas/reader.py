"""The one entry point from raw message bytes to an envelope and a verdict.

``MessageReader.read`` parses with the hardened parser, reads the envelope,
classifies the message through the catalogue, validates it against the
precompiled schemas (our own, or an official folder) and applies the rules the
schemas cannot express (MsgId is a UUID, the payload root fits the namespace,
AppRec status codes). It never raises for bad input: every failure is a
:class:`MessageProblem` with its AppRec error code and safe text, and the
envelope is returned as far as it could be read, so a negative AppRec can be
sent back.
"""

import re
from dataclasses import dataclass, field

from schemas.catalogue import Catalogue, CatalogueEntry, default_catalogue
from schemas.catalogue_data import MSGHEAD_NAMESPACE
from schemas.envelope import Envelope, EnvelopeReading, patient_identifiers, read_envelope
from schemas.errors import MessageRejectedError
from schemas.official import BuiltinLibrary, OfficialLibrary
from schemas.settings import SchemaSettings
from schemas.validation import SchemaValidator, ValidationFailure
from schemas.vocabulary import AppRecErrorCode, Family
from schemas.xmlparse import parse_message

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True, slots=True)
class MessageProblem:
    """Why a message is rejected: the AppRec error code and text safe to log and send back."""

    code: AppRecErrorCode
    reason: str


@dataclass(frozen=True, slots=True)
class ReadResult:
    """The envelope (as far as it could be read) and the verdict; ``problem`` ``None``: accepted."""

    envelope: Envelope | None
    problem: MessageProblem | None
    entry: CatalogueEntry | None = field(default=None, compare=False)
    """The catalogue entry the message was read under, when it is a known standard."""

    @property
    def accepted(self) -> bool:
        """Whether the message passed every check."""
        return self.problem is None


class MessageReader:
    """Reads and validates messages; build one per process (or thread) and reuse it.

    Construction compiles every schema the catalogue can need; ``read`` then only
    parses and validates. Compiled schemas keep their last error log, so one reader
    should not validate from several threads at once.
    """

    def __init__(self, settings: SchemaSettings, catalogue: Catalogue | None = None) -> None:
        self.settings = settings
        self.catalogue = catalogue or default_catalogue()
        self.limits = settings.parse_limits()
        self._builtin = SchemaValidator(BuiltinLibrary(self.catalogue))
        self._official: SchemaValidator | None = None
        self._problems: list[str] = []
        if settings.official_dir is not None:
            self._official = SchemaValidator(OfficialLibrary(settings.official_dir))
        self._precompile()

    @property
    def mode(self) -> str:
        """``official`` when an official schema folder is configured, else ``built-in``."""
        return "official" if self._official is not None else "built-in"

    def _combination(self, entry: CatalogueEntry, namespace: str) -> tuple[str, ...]:
        return (MSGHEAD_NAMESPACE, namespace) if entry.container == "msghead" else (namespace,)

    def _precompile(self) -> None:
        """Compile every schema the catalogue can need now, so messages never wait for it."""
        self._builtin.compile((MSGHEAD_NAMESPACE,))
        for entry in self.catalogue.entries:
            if not entry.dated_series and entry.builtin_xsd is not None:
                self._builtin.compile(self._combination(entry, entry.namespace))
        official = self._official
        if official is None:
            return
        library = official.library
        assert isinstance(library, OfficialLibrary)
        for namespace in sorted(library.namespaces()):
            found = self.catalogue.by_namespace(namespace)
            if found is None:
                continue
            outcome = official.compile(self._combination(found[0], namespace))
            if isinstance(outcome, ValidationFailure):
                self._problems.append(f"{namespace}: {outcome.reason}")

    def startup_problems(self) -> list[str]:
        """Official schemas that could not be compiled, by namespace, with the reason.

        The caller logs them (the reader itself stays silent so command output is clean).
        """
        return list(self._problems)

    def read(self, raw: bytes) -> ReadResult:
        """Parse, classify and validate ``raw``; never raises for bad input."""
        try:
            root = parse_message(raw, self.limits)
        except MessageRejectedError as exc:
            return ReadResult(None, MessageProblem(exc.code, exc.reason))
        reading = read_envelope(root, self.catalogue)
        problem = self._fan_out(reading.envelope, len(raw)) or self._check(reading)
        return ReadResult(reading.envelope, problem, reading.classification.entry)

    def _fan_out(self, envelope: Envelope, size: int) -> MessageProblem | None:
        """Refuse a message whose routing would cost more than one message should.

        Every receiver gets its own copy of the document inside one router transaction,
        so the copies and their total bytes are capped where the envelope is read.
        """
        copies = len(envelope.copy_receivers)
        if copies > self.settings.max_copy_receivers:
            return MessageProblem(
                AppRecErrorCode.T99,
                f"the message names {copies} copy receivers; the hub takes at most "
                f"{self.settings.max_copy_receivers}",
            )
        routed = size * (1 + copies)
        if routed > self.settings.max_fanout_bytes:
            return MessageProblem(
                AppRecErrorCode.T99,
                f"{size} bytes to {1 + copies} receivers is {routed} bytes routed; the hub "
                f"routes at most {self.settings.max_fanout_bytes} bytes per message",
            )
        return None

    def patient_identifiers(self, raw: bytes) -> tuple[tuple[str, str], ...]:
        """(TypeId, Id) of the patient a message names; only for callers that must have them."""
        try:
            root = parse_message(raw, self.limits)
        except MessageRejectedError:
            return ()
        return patient_identifiers(root)

    def _check(self, reading: EnvelopeReading) -> MessageProblem | None:
        envelope = reading.envelope
        classification = reading.classification
        entry = classification.entry
        if entry is None:
            return self._unknown(reading)
        namespace = envelope.payload_namespace or envelope.root_namespace
        if classification.mismatch:  # the schema's wording is more precise when it has one
            failure = self._validate(reading, self._combination(entry, namespace))
            reason = failure.reason if failure else classification.reason
            return MessageProblem(
                AppRecErrorCode.T02, reason or "type does not match the namespace"
            )
        if entry.payload_roots and envelope.payload_root not in entry.payload_roots:
            return MessageProblem(
                AppRecErrorCode.T02,
                f"payload root {envelope.payload_root} is not a {entry.standard} "
                f"{classification.version} root (expected {' or '.join(entry.payload_roots)})",
            )
        failure = self._validate(reading, self._combination(entry, namespace))
        if failure is not None:
            return MessageProblem(failure.code, failure.reason)
        return self._rules(envelope)

    def _validate(
        self, reading: EnvelopeReading, namespaces: tuple[str, ...]
    ) -> ValidationFailure | None:
        entry = reading.classification.entry
        target = reading.payload if reading.payload is not None else None
        root = target.getroottree().getroot() if target is not None else None
        if root is None:
            return ValidationFailure(AppRecErrorCode.T01, "the message has no content")
        attachments = reading.attachments
        if self._official is not None:
            return self._official.validate(root, namespaces, attachments)
        if entry is not None and entry.builtin_xsd is None:
            return self._builtin.validate(root, (MSGHEAD_NAMESPACE,), attachments)  # envelope
        return self._builtin.validate(root, namespaces, attachments)

    def _unknown(self, reading: EnvelopeReading) -> MessageProblem | None:
        envelope = reading.envelope
        reason = envelope.unknown_reason or "message type not supported"
        if not envelope.is_msghead or self.settings.unknown_type_policy == "reject":
            return MessageProblem(AppRecErrorCode.T10, reason)
        # Policy "envelope_only": the MsgHead must still be valid and its ids sound.
        root = reading.payload.getroottree().getroot() if reading.payload is not None else None
        if root is None:
            return MessageProblem(AppRecErrorCode.T10, reason)
        failure = self._builtin.validate(root, (MSGHEAD_NAMESPACE,), reading.attachments)
        if failure is not None:
            return MessageProblem(failure.code, failure.reason)
        return self._rules(envelope)

    def _rules(self, envelope: Envelope) -> MessageProblem | None:
        """What the schemas cannot say: ids are UUIDs, AppRec status is from kodeverk 8258."""
        id_path = "AppRec/Id" if envelope.family is Family.APPREC else "MsgId"
        if not envelope.msg_id or not _UUID.fullmatch(envelope.msg_id):
            return MessageProblem(AppRecErrorCode.E10, f"{id_path} is not a UUID")
        if envelope.family is Family.APPREC and envelope.apprec_status is None:
            return MessageProblem(
                AppRecErrorCode.T02, "AppRec/Status/@V is not a code of kodeverk 8258 (1, 2 or 3)"
            )
        return None
