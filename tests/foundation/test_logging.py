"""Logging: JSON lines carry the component; identity-number shapes never reach the output."""

import json
from collections.abc import Iterator

import pytest
import structlog

from meldingshub.logging import MASK, configure_logging


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_json_lines_carry_component_and_mask_identity_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("router", "json", "info")
    structlog.get_logger("t").info("routed", message_id="abc", note="fnr 01017012345 seen")
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["component"] == "router"
    assert record["message_id"] == "abc"
    assert "01017012345" not in json.dumps(record)
    assert MASK in record["note"]


def test_thread_component_overrides_process_component(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("hub", "json", "info")
    with structlog.contextvars.bound_contextvars(component="delivery"):
        structlog.get_logger("t").info("delivered")
    structlog.get_logger("t").info("ready")
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["component"] for line in lines[-2:]] == ["delivery", "hub"]


def test_debug_is_filtered_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("hub", "json", "info")
    structlog.get_logger("t").debug("noise")
    assert "noise" not in capsys.readouterr().out
