"""Prometheus metrics of the address register: look-ups per information service and outcome,
the size of the live snapshot, and the changes it has applied.

Label values come from closed sets only: the information service is an
:class:`~schemas.vocabulary.AddressingMode` (organisation, service, person) and
the outcome a :class:`LookupOutcome`; never a HER-id.
"""

from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge

from schemas.vocabulary import AddressingMode, Category


class LookupOutcome(StrEnum):
    """How a look-up ended."""

    FOUND = "found"
    """The party exists (or the resolution succeeded)."""
    NOT_FOUND = "not_found"
    """No such party, or an empty search page."""
    REJECTED = "rejected"
    """A resolution failed for another reason (inactive, type not accepted, no endpoint, ...)."""
    INVALID = "invalid"
    """The request itself was malformed."""


class RegisterChange(StrEnum):
    """What a record of the parties topic did to the live snapshot."""

    UPSERT = "upsert"
    REMOVE = "remove"
    BAD_RECORD = "bad_record"


INFORMATION_SERVICES = (AddressingMode.ORGANISATION, AddressingMode.SERVICE, AddressingMode.PERSON)
"""The information services look-ups are counted per (the register's three kinds of look-up)."""


class RegisterMetrics:
    """The register's metrics in an injected registry; every label combination pre-initialised."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lookups = Counter(
            "meldingshub_register_lookups",
            "Address register look-ups (HTTP API and CLI) by information service and outcome.",
            ["service", "outcome"],
            registry=registry,
        )
        self.parties = Gauge(
            "meldingshub_register_parties",
            "Parties in the live register snapshot by statistics category.",
            ["category"],
            registry=registry,
        )
        self.changes = Counter(
            "meldingshub_register_changes",
            "Records of the parties topic applied to the live snapshot, by effect.",
            ["change"],
            registry=registry,
        )
        self.snapshot_builds = Counter(
            "meldingshub_register_snapshot_builds",
            "Register snapshots built (one per batch of changes).",
            registry=registry,
        )
        for service in INFORMATION_SERVICES:
            for outcome in LookupOutcome:
                self.lookups.labels(service.value, outcome.value)
        for category in Category:
            self.parties.labels(category.value)
        for change in RegisterChange:
            self.changes.labels(change.value)

    def lookup(self, service: AddressingMode, outcome: LookupOutcome) -> None:
        """Count one look-up; ``service`` is organisation, service or person."""
        if service not in INFORMATION_SERVICES:
            service = AddressingMode.ORGANISATION
        self.lookups.labels(service.value, outcome.value).inc()

    def snapshot(self, counts: dict[Category, int]) -> None:
        """Record the size of a new snapshot."""
        self.snapshot_builds.inc()
        for category in Category:
            self.parties.labels(category.value).set(counts.get(category, 0))

    def change(self, change: RegisterChange, count: int = 1) -> None:
        """Count applied topic records."""
        if count:
            self.changes.labels(change.value).inc(count)
