"""Where the shared test data lives: ``../shared`` beside the checkout (never copied in)."""

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = (
    Path.cwd().parent / "shared"
    if (Path.cwd().parent / "shared").is_dir()
    else REPO.parent / "shared"
)
CORPUS = SHARED / "corpus"
OFFICIAL_XSD = SHARED / "xsd"


def corpus_manifest() -> list[dict[str, Any]]:
    """The corpus manifest entries; skips the calling test if the shared folder is absent."""
    manifest = CORPUS / "manifest.json"
    if not manifest.is_file():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    entries: list[dict[str, Any]] = json.loads(manifest.read_text(encoding="utf-8"))
    return entries
