"""``meldingshub simulate``: calibrated national traffic into a running hub, with ground truth."""

import json
import re
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from access.principals import Principals, read_principals
from meldingshub.cli.common import (
    EXIT_USAGE,
    fail,
    main,
    parse_scale,
    settings_from,
    stop_on_signals,
)
from meldingshub.settings import Settings
from meldingshub.simulator.mix import MIXES
from meldingshub.simulator.pacing import SendStats, send_all
from meldingshub.simulator.parties import REGISTER_FILE, register_index
from meldingshub.simulator.senders import (
    VIAS,
    AmqpSender,
    FileSender,
    HttpSender,
    KafkaSender,
    Sender,
    read_tokens,
)
from meldingshub.simulator.traffic import Outgoing, Traffic
from meldingshub.simulator.traffic import provision as provision_principals
from meldingshub.simulator.truth import Truth

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
YEAR_APPREC_DELAY_S = (60.0, 4 * 3600.0)
"""Receivers answer a replayed year within minutes to hours."""
LIVE_APPREC_DELAY_S = (1.0, 10.0)

_MIX_OF_YEAR = {mix.year: mix.name for mix in MIXES.values()}
"""The calibrated mix of each year a mix exists for."""


def _duration(value: str | None) -> float | None:
    if value is None:
        return None
    match = _DURATION.match(value)
    if match is None:
        raise click.BadParameter("give seconds, or a number with s, m or h (90, 10m, 1h)")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"": 1, "s": 1, "m": 60, "h": 3600}[unit]


def _scale(value: str | None) -> int | None:
    return parse_scale(value)


@main.command()
@click.option(
    "--register",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Register file the hub routes with (default: the embedded national register).",
)
@click.option("--messages", type=click.IntRange(min=1), help="Send this many documents.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0.01),
    help="Messages per second (receivers' AppRecs come on top).",
)
@click.option("--duration", help="With --rate: stop after this long (90, 10m, 1h).")
@click.option("--year", type=click.IntRange(2000, 2100), help="Send a whole year, scaled.")
@click.option("--scale", help="With --year: 1:N of the national traffic, e.g. 1:1000.")
@click.option(
    "--mix",
    "mix_name",
    type=click.Choice(sorted(MIXES)),
    default=None,
    help="calibrated mix; default: the one of --year where there is one, else national-2019",
)
@click.option("--via", type=click.Choice(VIAS), default="kafka", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the ground truth here (for `meldingshub stats verify`).",
)
@click.option("--fault-rate", type=click.FloatRange(0.0, 1.0), default=0.02, show_default=True)
@click.option(
    "--principals",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The hub's principals file (default MELDINGSHUB_ACCESS__PRINCIPALS_FILE); with it "
    "the simulator sends as those principals and also spoofs senders.",
)
@click.option(
    "--tokens",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='--via http: JSON {"principal": "bearer token"}.',
)
@click.option(
    "--url", help="--via http: the hub's API (default http://MELDINGSHUB_HTTP__API_BIND)."
)
@click.option(
    "--provision",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/principals.toml (one principal per organisation, for the hub) and "
    "DIR/tokens.json (their bearer tokens, for --via http), then exit.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="Ingress time of the first document (default now; for a fixed, reproducible run).",
)
@click.pass_context
def simulate(
    ctx: click.Context,
    register: Path | None,
    messages: int | None,
    rate: float | None,
    duration: str | None,
    year: int | None,
    scale: str | None,
    mix_name: str | None,
    via: str,
    seed: int,
    truth_path: Path | None,
    fault_rate: float,
    principals: Path | None,
    tokens: Path | None,
    url: str | None,
    provision: Path | None,
    start: datetime | None,
) -> None:
    """Send calibrated, valid (and some faulty) messages of every family into a running hub.

    Choose one shape: --messages N (optionally at --rate R), --rate R [--duration D],
    or --year Y --scale 1:N (a national year with its timestamps, via kafka).
    """
    settings = settings_from(ctx)
    if provision is not None:
        _provision(settings, register, provision)
        return
    seconds = _duration(duration)
    ratio = _scale(scale)
    if year is not None and (messages is not None or rate is not None or ratio is None):
        fail("--year needs --scale and goes without --messages and --rate", EXIT_USAGE)
    if year is None and messages is None and rate is None:
        fail("choose --messages N, --rate R or --year Y --scale 1:N", EXIT_USAGE)
    if year is not None and via != "kafka":
        fail("a year keeps its own timestamps only --via kafka", EXIT_USAGE)
    principals_file = principals or settings.access.principals_file
    known = read_principals(principals_file) if principals_file else None
    zone = ZoneInfo(settings.statistics.timezone)
    index = register_index(register or _default_register(settings), settings.address_register)
    traffic = Traffic(
        index,
        MIXES[mix_name or _MIX_OF_YEAR.get(year or 0, "national-2019")],
        seed=seed,
        fault_rate=fault_rate,
        principals=known,
        zone=zone,
        apprec_delay_s=YEAR_APPREC_DELAY_S if year is not None else LIVE_APPREC_DELAY_S,
    )
    first = (start.replace(tzinfo=zone) if start else datetime.now(UTC)).astimezone(UTC)
    if year is not None and ratio is not None:
        documents = traffic.year(year, ratio)
    elif messages is not None:
        documents = traffic.messages(messages, first, rate)
    else:
        assert rate is not None
        documents = traffic.stream(first, rate)
    truth = Truth(
        settings.statistics.timezone,
        via,
        {
            "mix": mix_name or _MIX_OF_YEAR.get(year or 0, "national-2019"),
            "seed": seed,
            "fault_rate": fault_rate,
            "year": year,
            "scale": f"1:{ratio}" if ratio else None,
            "messages": messages,
            "rate": rate,
        },
    )
    sender = _sender(settings, via, known, tokens, url)
    stop = stop_on_signals()
    stats = _send(documents, sender, truth, rate, seconds, stop)
    if truth_path is not None:
        truth.write(truth_path)
    click.echo(
        f"sent {stats.sent} documents ({stats.bytes / 1e6:.1f} MB) in {stats.elapsed_s:.1f} s"
        f" ({stats.rate:.0f}/s); "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(truth.kinds.items()))
        + (f"; truth in {truth_path}" if truth_path else ""),
        err=True,
    )


def _provision(settings: Settings, register: Path | None, directory: Path) -> None:
    index = register_index(register or _default_register(settings), settings.address_register)
    principals, tokens = provision_principals(index)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "principals.toml").write_text(principals.to_toml(), encoding="utf-8")
    secrets = directory / "tokens.json"
    secrets.touch(mode=0o600)
    secrets.write_text(json.dumps(tokens, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    click.echo(
        f"wrote {len(principals)} principals to {directory / 'principals.toml'} (give it to the "
        f"hub as MELDINGSHUB_ACCESS__PRINCIPALS_FILE) and their tokens to {secrets}",
        err=True,
    )


def _default_register(settings: Settings) -> Path | None:
    configured = settings.address_register.snapshot
    if configured is not None:
        return configured
    embedded = settings.data_dir / REGISTER_FILE
    return embedded if embedded.is_file() else None


def _sender(
    settings: Settings,
    via: str,
    principals: Principals | None,
    tokens: Path | None,
    url: str | None,
) -> Sender:
    if via == "kafka":
        kafka = settings.kafka
        bootstrap = kafka.bootstrap_servers or f"{kafka.embedded_host}:{kafka.embedded_port}"
        return KafkaSender(kafka, bootstrap)
    if principals is None:
        fail(f"--via {via} needs the hub's principals (--principals FILE)", EXIT_USAGE)
    if via == "http":
        if tokens is None:
            fail("--via http needs --tokens FILE with each principal's bearer token", EXIT_USAGE)
        return HttpSender(url or f"http://{settings.http.api_bind}", read_tokens(tokens))
    if via == "amqp":
        return AmqpSender(settings.amqp.url.get_secret_value(), principals)
    root = settings.ingress.file_root
    if not root.is_absolute():
        root = settings.data_dir / root
    return FileSender(root, principals)


def _send(
    documents: Iterator[Outgoing],
    sender: Sender,
    truth: Truth,
    rate: float | None,
    seconds: float | None,
    stop: threading.Event,
) -> SendStats:
    def progress(stats: SendStats) -> None:
        sys.stderr.write(f"\rsent {stats.sent:,} documents ({stats.rate:,.0f}/s)   ")
        sys.stderr.flush()

    try:
        return send_all(
            documents,
            sender,
            truth,
            realtime=rate is not None,
            duration_s=seconds,
            stop=stop,
            progress=progress,
        )
    finally:
        sys.stderr.write("\n")
        sender.close()
