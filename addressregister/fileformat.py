"""Register files: a grunndata-like JSON export and the same rows as CSV.

JSON is ``{"format": "meldingshub-register", "version": 1, "parties": [...]}``
(a bare list of party records is read too), one record per line when written.
CSV has one column per record field; ``endpoint`` is split into ``endpointKind``
and ``endpointAddress``, profiles are written ``TYPE=1.0|1.1;OTHER`` and
thumbprints are space-separated. Reading checks every row and every field and
raises one :class:`RegisterFileError` that lists them all. Rows count records
from 1: the first element of ``parties``, or the first line after the CSV header.
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from addressregister.errors import PartyValidationError, RegisterFileError, RowError
from addressregister.model import CommunicationParty
from addressregister.records import (
    FIELDS,
    parse_profile_text,
    party_from_record,
    party_to_record,
    profile_text,
)

FORMAT_NAME = "meldingshub-register"
FORMAT_VERSION = 1
CSV_COLUMNS = (
    *(f for f in FIELDS if f != "endpoint"),
    "endpointKind",
    "endpointAddress",
)
FileFormat = Literal["json", "csv"]
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class RegisterFile:
    """The parties of a file, each with the row it came from (for later cross-row errors)."""

    parties: tuple[CommunicationParty, ...]
    rows: tuple[int, ...]


def format_of(path: Path, given: str | None = None) -> FileFormat:
    """``json`` or ``csv``, from ``given`` or the file name."""
    chosen = (given or path.suffix.lstrip(".")).lower()
    if chosen not in ("json", "csv"):
        raise RegisterFileError(
            str(path), [RowError(0, "format", "use a .json or .csv file (or --format)")]
        )
    return "json" if chosen == "json" else "csv"


def read_register_file(
    path: Path, file_format: str | None = None, progress: Progress | None = None
) -> RegisterFile:
    """Every party of ``path``; raises :class:`RegisterFileError` listing every wrong row."""
    kind = format_of(path, file_format)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegisterFileError(
            str(path), [RowError(0, "file", f"cannot be read: {exc}")]
        ) from None
    records = _json_records(text) if kind == "json" else _csv_records(text)
    parties: list[CommunicationParty] = []
    rows: list[int] = []
    errors: list[RowError] = []
    first_row_of: dict[int, int] = {}
    pending = 0
    for row, record in records:
        pending += 1
        if progress is not None and pending >= 500:
            progress(pending)
            pending = 0
        if isinstance(record, RowError):
            errors.append(record)
            continue
        try:
            party = party_from_record(record)
        except PartyValidationError as exc:
            her_id = record.get("herId")
            shown = her_id if isinstance(her_id, int) and not isinstance(her_id, bool) else None
            errors.extend(RowError(row, e.field, e.message, shown) for e in exc.errors)
            continue
        if party.her_id in first_row_of:
            errors.append(
                RowError(
                    row,
                    "herId",
                    f"HER-id also on row {first_row_of[party.her_id]}; a HER-id is listed once",
                    party.her_id,
                )
            )
            continue
        first_row_of[party.her_id] = row
        parties.append(party)
        rows.append(row)
    if progress is not None and pending:
        progress(pending)
    if errors:
        raise RegisterFileError(str(path), errors)
    return RegisterFile(tuple(parties), tuple(rows))


def write_register_file(
    path: Path,
    parties: Iterable[CommunicationParty],
    file_format: str | None = None,
    *,
    with_category: bool = False,
) -> int:
    """Write ``parties`` in their given order; returns how many were written."""
    kind = format_of(path, file_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [party_to_record(p, with_category=with_category) for p in parties]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        if kind == "json":
            _write_json(out, records)
        else:
            _write_csv(out, records, with_category)
    tmp.replace(path)
    return len(records)


def _json_records(text: str) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        yield 0, RowError(0, "file", f"is not valid JSON: {exc}")
        return
    if isinstance(document, dict):
        if document.get("format") not in (None, FORMAT_NAME):
            yield 0, RowError(0, "format", f"expected {FORMAT_NAME!r}")
            return
        document = document.get("parties")
    if not isinstance(document, list):
        yield 0, RowError(0, "parties", "expected a list of party records")
        return
    for row, record in enumerate(document, start=1):
        if isinstance(record, dict):
            yield row, record
        else:
            yield row, RowError(row, "record", "must be a JSON object")


def _csv_records(text: str) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in CSV_COLUMNS and c != "category"]
    if unknown or "herId" not in header:
        problem = (
            f"unknown columns: {', '.join(unknown)}" if unknown else "the herId column is missing"
        )
        yield 0, RowError(0, "header", problem)
        return
    for row, raw in enumerate(reader, start=1):
        if None in raw:
            yield row, RowError(row, "record", "has more cells than the header")
            continue
        record: dict[str, Any] = {k: v for k, v in raw.items() if k is not None and v != ""}
        kind, address = record.pop("endpointKind", None), record.pop("endpointAddress", None)
        if kind is not None or address is not None:
            record["endpoint"] = {"kind": kind, "address": address}
        yield row, record


def _write_json(out: TextIO, records: list[dict[str, Any]]) -> None:
    out.write(f'{{"format": "{FORMAT_NAME}", "version": {FORMAT_VERSION}, "parties": [\n')
    for position, record in enumerate(records):
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        out.write(",\n" if position < len(records) - 1 else "\n")
    out.write("]}\n")


def _write_csv(out: TextIO, records: list[dict[str, Any]], category: bool) -> None:
    columns = [*CSV_COLUMNS, "category"] if category else list(CSV_COLUMNS)
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row = dict(record)
        endpoint = row.pop("endpoint", None)
        if endpoint is not None:
            row["endpointKind"], row["endpointAddress"] = endpoint["kind"], endpoint["address"]
        for key in ("receives", "sends"):
            if key in row:
                row[key] = profile_text(row[key])
        if "certificateThumbprints" in row:
            row["certificateThumbprints"] = " ".join(row["certificateThumbprints"])
        if "active" in row:
            row["active"] = "true" if row["active"] else "false"
        writer.writerow(row)


__all__ = [
    "CSV_COLUMNS",
    "FORMAT_NAME",
    "RegisterFile",
    "format_of",
    "parse_profile_text",
    "read_register_file",
    "write_register_file",
]
