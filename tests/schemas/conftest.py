"""Shared readers for the schema tests, and the conformance table printed at the end of the run."""

from collections import defaultdict
from dataclasses import dataclass

import pytest

from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from tests.support.shared import OFFICIAL_XSD


@dataclass(frozen=True)
class ConformanceRow:
    """One corpus file's outcome in one validation mode."""

    file: str
    family: str
    mode: str
    verdict: str
    """``accepted`` or ``<code>: <reason>``."""


CONFORMANCE: list[ConformanceRow] = []
"""Filled by ``test_conformance.py``; printed by :func:`pytest_terminal_summary`."""


@pytest.fixture(scope="session")
def builtin_reader() -> MessageReader:
    """A reader with the built-in schemas (compiled once per session)."""
    return MessageReader(SchemaSettings())


@pytest.fixture(scope="session")
def official_reader() -> MessageReader:
    """A reader validating against the official schema folder in ``../shared/xsd``."""
    if not OFFICIAL_XSD.is_dir():
        pytest.skip(f"official schemas not found at {OFFICIAL_XSD}")
    return MessageReader(SchemaSettings(official_dir=OFFICIAL_XSD))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the corpus conformance table per family and mode, and every rejection's reason."""
    if not CONFORMANCE:
        return
    write = terminalreporter.write_line
    terminalreporter.section("corpus conformance (schemas)")
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in CONFORMANCE:
        counts[(row.family, row.mode)][0 if row.verdict == "accepted" else 1] += 1
    write(f"{'family':<10} {'mode':<10} {'files':>6} {'accepted':>9} {'rejected':>9}")
    for (family, mode), (accepted, rejected) in sorted(counts.items()):
        write(f"{family:<10} {mode:<10} {accepted + rejected:>6} {accepted:>9} {rejected:>9}")
    rejections = [row for row in CONFORMANCE if row.verdict != "accepted"]
    if rejections:
        write("")
        write("rejected samples (expected rejections and drift of the standards' own examples):")
        for row in rejections:
            write(f"  [{row.mode}] {row.file}: {row.verdict}")
