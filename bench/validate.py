"""Messages per second per core for parse + classify + validate over the corpus mix.

Measured for the built-in schemas and for the official schema folder, beside bare
``lxml.etree.fromstring`` of the same bytes in the same run; the ratio to that
baseline is the figure to watch (absolute numbers depend on the machine).

Run: ``.venv/bin/python bench/validate.py`` (``make bench`` runs it).
"""

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
SECONDS_PER_MODE = 3.0


def corpus() -> list[bytes]:
    """Every corpus message, in a fixed order (the realistic mix of families and sizes)."""
    return [path.read_bytes() for path in sorted((SHARED / "corpus").rglob("*.xml"))]


def rate(work: Callable[[bytes], object], messages: list[bytes]) -> float:
    """Messages per second, running whole passes over the corpus for about SECONDS_PER_MODE."""
    for message in messages:  # warm-up: compiled schemas, parser objects
        work(message)
    done = 0
    start = time.perf_counter()
    deadline = start + SECONDS_PER_MODE
    while time.perf_counter() < deadline:
        for message in messages:
            work(message)
        done += len(messages)
    return done / (time.perf_counter() - start)


def main() -> int:
    """Print the rates and ratios; exit 0 also when the shared corpus is absent."""
    messages = corpus()
    if not messages:
        print(f"skipped: no corpus at {SHARED / 'corpus'}")
        return 0
    size = sum(len(message) for message in messages)
    print(f"corpus: {len(messages)} messages, {size / 1024:.0f} KiB, one core")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    baseline = rate(lambda message: etree.fromstring(message, parser), messages)
    print(f"  {'bare lxml.etree.fromstring':<34} {baseline:>9,.0f} msg/s")

    modes: list[tuple[str, SchemaSettings]] = [("built-in schemas", SchemaSettings())]
    if (SHARED / "xsd").is_dir():
        modes.append(("official schemas", SchemaSettings(official_dir=SHARED / "xsd")))
    for name, settings in modes:
        reader = MessageReader(settings)
        rejected = sum(not reader.read(message).accepted for message in messages)
        measured = rate(reader.read, messages)
        print(
            f"  {'read (' + name + ')':<34} {measured:>9,.0f} msg/s"
            f"   ratio {measured / baseline:5.2f} of bare parse"
            f"   ({rejected} of {len(messages)} rejected)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
