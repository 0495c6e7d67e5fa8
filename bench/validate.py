"""Messages per second per core for parse + classify + validate over the corpus mix.

Measured for the built-in schemas and for the official schema folder, beside bare
``lxml.etree.fromstring`` of the same bytes in the same run; the ratio to that
baseline is the figure to watch (absolute numbers depend on the machine).

The machines are shared, so the modes are measured in alternating rounds and each
round gives a ratio; the median round is reported. Time is CPU time of this process
(``time.process_time``): messages per second *per core*, whatever else the machine runs.

Run: ``.venv/bin/python bench/validate.py`` (``make bench`` runs it).
"""

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from schemas.reader import MessageReader  # noqa: E402  (after the path set-up above)
from schemas.settings import SchemaSettings  # noqa: E402

SHARED = next(
    (base / "shared" for base in (Path.cwd().parent, REPO.parent) if (base / "shared").is_dir()),
    REPO.parent / "shared",
)
ROUNDS = 7
SECONDS_PER_ROUND = 0.5
TARGET = 0.5
"""Issue #21: the read path at least half the speed of bare parsing."""


def corpus() -> list[bytes]:
    """Every corpus message, in a fixed order (the realistic mix of families and sizes)."""
    return [path.read_bytes() for path in sorted((SHARED / "corpus").rglob("*.xml"))]


def rate(work: Callable[[bytes], object], messages: list[bytes]) -> float:
    """Messages per CPU second, running whole passes over the corpus for about a round."""
    done = 0
    start = time.process_time()
    deadline = start + SECONDS_PER_ROUND
    while time.process_time() < deadline:
        for message in messages:
            work(message)
        done += len(messages)
    return done / (time.process_time() - start)


def main() -> int:
    """Print the rates and ratios; exit 0 also when the shared corpus is absent."""
    messages = corpus()
    if not messages:
        print(f"skipped: no corpus at {SHARED / 'corpus'}")
        return 0
    size = sum(len(message) for message in messages)
    print(f"corpus: {len(messages)} messages, {size / 1024:.0f} KiB, one core (CPU time)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    modes: dict[str, Callable[[bytes], object]] = {
        "bare lxml.etree.fromstring": lambda message: etree.fromstring(message, parser)
    }
    rejected: dict[str, int] = {}
    settings = [("built-in schemas", SchemaSettings())]
    if (SHARED / "xsd").is_dir():
        settings.append(("official schemas", SchemaSettings(official_dir=SHARED / "xsd")))
    for name, setting in settings:
        reader = MessageReader(setting)
        rejected[name] = sum(not reader.read(message).accepted for message in messages)
        modes[f"read ({name})"] = reader.read
    for work in modes.values():  # warm-up: compiled schemas, parser objects
        for message in messages:
            work(message)
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(ROUNDS):
        for mode, work in modes.items():
            rates[mode].append(rate(work, messages))
    baseline = rates.pop("bare lxml.etree.fromstring")
    print(f"  {'bare lxml.etree.fromstring':<34} {statistics.median(baseline):>9,.0f} msg/s")
    for (name, _), (mode, measured) in zip(settings, rates.items(), strict=True):
        ratio = statistics.median(m / b for m, b in zip(measured, baseline, strict=True))
        print(
            f"  {mode:<34} {statistics.median(measured):>9,.0f} msg/s"
            f"   ratio {ratio:5.2f} of bare parse   ({rejected[name]} of {len(messages)} rejected)"
        )
        verdict = "OK" if ratio >= TARGET else "not met"
        print(f"TARGET read path ({name}) / bare lxml: {ratio:.2f} (target >= {TARGET}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
