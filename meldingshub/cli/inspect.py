"""``meldingshub inspect FILE...``: what the hub reads from message files, and its verdict."""

import json
from pathlib import Path
from typing import Any

import click

from meldingshub.cli.common import EXIT_ERROR, main, settings_from
from schemas import shown
from schemas.parties import PartyRef
from schemas.reader import MessageReader, ReadResult


def _party_text(party: PartyRef) -> str:
    parts = [
        f"{label} HER {value}"
        for label, value in (
            ("organisation", party.organisation_her_id),
            ("service", party.service_her_id),
            ("person", party.person_her_id),
        )
        if value is not None
    ]
    if organisation_number := shown.organisation_number(party.organisation_number):
        parts.append(f"ENH {organisation_number}")
    return ", ".join(parts) or "(no ids)"


def _party_json(party: PartyRef) -> dict[str, Any]:
    return {
        "organisation_her_id": party.organisation_her_id,
        "service_her_id": party.service_her_id,
        "person_her_id": party.person_her_id,
        "organisation_number": shown.organisation_number(party.organisation_number),
    }


def _as_json(file: str, result: ReadResult) -> dict[str, Any]:
    """Only codes, ids of messages and organisations, dates and counts: never patient data."""
    envelope = result.envelope
    record: dict[str, Any] = {"file": file, "accepted": result.accepted}
    if result.problem is not None:
        record["code"] = result.problem.code.value
        record["reason"] = result.problem.reason
    if envelope is not None:
        record |= {
            "family": envelope.family.value,
            "type": shown.message_type(envelope),
            "standard": envelope.standard,
            "version": envelope.version,
            "msg_id": shown.message_id(envelope.msg_id),
            "gen_date": shown.date(envelope.gen_date),
            "msghead": envelope.is_msghead,
            "payload_root": envelope.payload_root,
            "payload_namespace": shown.namespace(envelope),
            "sender": _party_json(envelope.sender),
            "receiver": _party_json(envelope.receiver),
            "copy_receivers": [_party_json(party) for party in envelope.copy_receivers],
            "attachment_count": envelope.attachment_count,
            "attachment_sizes": list(envelope.attachment_sizes),
            "answered_by_apprec": envelope.apprec_version,
        }
        if envelope.apprec_status_code is not None:
            record["apprec_status"] = shown.apprec_status(envelope.apprec_status_code)
            record["apprec_errors"] = shown.apprec_errors(envelope.apprec_error_codes)
            record["original_msg_id"] = shown.message_id(envelope.original_msg_id)
    return record


def _as_text(file: str, result: ReadResult) -> str:
    lines = [file]
    envelope = result.envelope
    if envelope is not None:
        standard = f"{envelope.standard} {envelope.version}".strip() or "-"
        lines += [
            f"  family      {envelope.family.value}   type {shown.message_type(envelope)}"
            f"   standard {standard}",
            f"  msg-id      {shown.message_id(envelope.msg_id) or '-'}"
            f"   generated {shown.date(envelope.gen_date) or '-'}",
            f"  sender      {_party_text(envelope.sender)}",
            f"  receiver    {_party_text(envelope.receiver)}",
        ]
        lines += [f"  copy to     {_party_text(party)}" for party in envelope.copy_receivers]
        sizes = ", ".join("?" if size is None else str(size) for size in envelope.attachment_sizes)
        lines.append(
            f"  attachments {envelope.attachment_count}" + (f" ({sizes} bytes)" if sizes else "")
        )
        if envelope.apprec_status_code is not None:
            errors = " ".join(shown.apprec_errors(envelope.apprec_error_codes)) or "none"
            status = shown.apprec_status(envelope.apprec_status_code)
            lines.append(
                f"  apprec      status {status}, errors {errors},"
                f" answers {shown.message_id(envelope.original_msg_id) or '-'}"
            )
    if result.problem is None:
        lines.append("  verdict     accepted")
    else:
        lines.append(f"  verdict     rejected {result.problem.code.value}: {result.problem.reason}")
    return "\n".join(lines)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option(
    "--schemas",
    "schema_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Validate against this official schema folder (with its OASIS catalogs).",
)
@click.pass_context
def inspect(
    ctx: click.Context, files: tuple[Path, ...], as_json: bool, schema_dir: Path | None
) -> None:
    """Read message FILES as the hub would: family, type, ids, parties and the verdict.

    Exits non-zero when any file is rejected. Patient data is never printed.
    """
    schema_settings = settings_from(ctx).schemas
    if schema_dir is not None:
        schema_settings = schema_settings.model_copy(update={"official_dir": schema_dir})
    reader = MessageReader(schema_settings)
    for problem in reader.startup_problems():
        click.echo(f"meldingshub: warning: official schema unusable: {problem}", err=True)
    rejected = 0
    for file in files:
        try:
            raw = file.read_bytes()
        except OSError as exc:
            rejected += 1
            click.echo(f"meldingshub: error: cannot read {file}: {exc.strerror}", err=True)
            continue
        result = reader.read(raw)
        rejected += not result.accepted
        if as_json:
            click.echo(json.dumps(_as_json(str(file), result), ensure_ascii=False))
        else:
            click.echo(_as_text(str(file), result))
    if rejected:
        ctx.exit(EXIT_ERROR)
