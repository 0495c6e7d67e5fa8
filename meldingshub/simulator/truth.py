"""The ground truth of a simulation: what was sent and what the hub must count, as a file.

The truth is kept as export cells, the shape ``meldingshub stats export`` and
``GET /v1/statistics`` answer in: per day (of the ingress time, in the
statistics time zone), family, message type, sender and receiver category and
addressing mode, the count per export column. Beside them: the AppRec error
codes the router must reject with, the hub's own negative AppRecs per receiving
category (counted on the day the hub sends them, so they are kept apart), and
what ingress adapters must refuse. The file is JSON with sorted keys and rows,
so the same simulation always writes the same bytes.
"""

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hubcore.errors import MeldingshubError
from meldingshub.simulator.traffic import Dims, Outgoing

TRUTH_FORMAT = "meldingshub-simulation-truth/1"

Cell = tuple[date, Dims]
"""A day and the dimensions of one export row."""


class TruthFileError(MeldingshubError):
    """A truth file that cannot be read."""


@dataclass
class Truth:
    """What a simulation sent and what the hub must count; built while sending."""

    timezone: str
    via: str
    description: dict[str, Any] = field(default_factory=dict)
    """How the simulation was run (mix, seed, scale, ...), for people reading the file."""
    cells: dict[Cell, Counter[str]] = field(default_factory=dict)
    rejections: Counter[str] = field(default_factory=Counter)
    hub_apprecs: Counter[str] = field(default_factory=Counter)
    ingress_refusals: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    families: Counter[str] = field(default_factory=Counter)
    documents: int = 0

    @property
    def screens_at_ingress(self) -> bool:
        """HTTP, AMQP and file ingress refuse unreadable and spoofed documents themselves."""
        return self.via != "kafka"

    def record(self, outgoing: Outgoing) -> None:
        """Add one sent document."""
        expectation = outgoing.expectation
        self.documents += 1
        self.kinds[expectation.kind] += 1
        self.families[expectation.family] += 1
        if self.screens_at_ingress and expectation.ingress_refusal is not None:
            self.ingress_refusals[expectation.ingress_refusal] += 1
            return
        day = outgoing.received_at.astimezone(ZoneInfo(self.timezone)).date()
        for dims, column in expectation.counts:
            cell = self.cells.get((day, dims))
            if cell is None:
                cell = self.cells[(day, dims)] = Counter()
            cell[column] += 1
        if expectation.reason_code is not None:
            self.rejections[expectation.reason_code] += 1
        if expectation.hub_apprec_to is not None:
            self.hub_apprecs[expectation.hub_apprec_to] += 1

    def record_all(self, sent: Iterable[Outgoing]) -> None:
        """Add every document of ``sent``."""
        for outgoing in sent:
            self.record(outgoing)

    @property
    def first_day(self) -> date | None:
        """The first day with a count."""
        return min((day for day, _ in self.cells), default=None)

    @property
    def last_day(self) -> date | None:
        """The last day with a count."""
        return max((day for day, _ in self.cells), default=None)

    def totals(self, column: str) -> Counter[Dims]:
        """Sum of ``column`` per dimensions over all days."""
        totals: Counter[Dims] = Counter()
        for (_day, dims), counts in self.cells.items():
            if counts[column]:
                totals[dims] += counts[column]
        return totals

    def to_json(self) -> str:
        """The truth file's text: deterministic for the same simulation."""
        rows = [
            {
                "day": day.isoformat(),
                "family": dims.family,
                "message_type": dims.message_type,
                "sender_category": dims.sender_category,
                "receiver_category": dims.receiver_category,
                "addressing_mode": dims.addressing_mode,
                **dict(sorted(counts.items())),
            }
            for (day, dims), counts in sorted(
                self.cells.items(), key=lambda item: (item[0][0], _dims_key(item[0][1]))
            )
        ]
        document = {
            "format": TRUTH_FORMAT,
            "simulation": self.description,
            "via": self.via,
            "timezone": self.timezone,
            "documents": self.documents,
            "kinds": dict(sorted(self.kinds.items())),
            "families": dict(sorted(self.families.items())),
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "rejections": dict(sorted(self.rejections.items())),
            "hub_apprecs": dict(sorted(self.hub_apprecs.items())),
            "ingress_refusals": dict(sorted(self.ingress_refusals.items())),
            "cells": rows,
        }
        return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    def write(self, path: Path) -> None:
        """Write the truth file (replacing it atomically)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(self.to_json(), encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> "Truth":
        """Read a truth file written by :meth:`write`."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TruthFileError(f"cannot read truth file {path}: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != TRUTH_FORMAT:
            raise TruthFileError(f"{path} is not a simulation truth file ({TRUTH_FORMAT})")
        try:
            truth = cls(
                timezone=document["timezone"],
                via=document["via"],
                description=dict(document.get("simulation") or {}),
                rejections=Counter(_counts(document["rejections"])),
                hub_apprecs=Counter(_counts(document["hub_apprecs"])),
                ingress_refusals=Counter(_counts(document["ingress_refusals"])),
                kinds=Counter(_counts(document["kinds"])),
                families=Counter(_counts(document["families"])),
                documents=int(document["documents"]),
            )
            for row in document["cells"]:
                dims = Dims(
                    row["family"],
                    row["message_type"],
                    row["sender_category"],
                    row["receiver_category"],
                    row["addressing_mode"],
                )
                counts = Counter(
                    {k: int(v) for k, v in row.items() if k not in _ROW_KEYS and int(v)}
                )
                truth.cells[(date.fromisoformat(row["day"]), dims)] = counts
        except (KeyError, TypeError, ValueError) as exc:
            raise TruthFileError(f"{path} is not a valid truth file: {exc!r}") from None
        return truth


_ROW_KEYS = frozenset(
    {"day", "family", "message_type", "sender_category", "receiver_category", "addressing_mode"}
)


def _dims_key(dims: Dims) -> tuple[str, ...]:
    return (
        dims.family,
        dims.message_type,
        dims.sender_category,
        dims.receiver_category,
        dims.addressing_mode,
    )


def _counts(value: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in value.items()}
