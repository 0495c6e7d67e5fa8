"""Logging: JSON lines carry the component; identity-number shapes never reach the output."""

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI

from meldingshub.components.api_server import ApiServer
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


def test_nested_values_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("hub", "json", "info")
    structlog.get_logger("t").info("x", found={"patient": ["01017012345"], "n": 1})
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["found"] == {"patient": [MASK], "n": 1}


def _fail_with(text: str) -> None:
    element_text = text  # a local that a verbose traceback would print
    raise ValueError(f"bad value {element_text!r}")


@pytest.mark.parametrize("via", ["structlog", "stdlib"])
def test_tracebacks_keep_frames_and_types_but_no_messages_or_locals(
    via: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("api", "json", "info")
    ApiServer("api", FastAPI(), "127.0.0.1:0")  # uvicorn set up as the hub sets it up
    marker = "O'Brien Q7leak har diabetes"
    try:
        try:
            _fail_with(marker)
        except ValueError as exc:
            raise RuntimeError(marker) from exc
    except RuntimeError:
        if via == "structlog":
            structlog.get_logger("t").exception("request failed")
        else:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Q7leak" not in out and "Brien" not in out
    record = json.loads(out.strip().splitlines()[-1])
    assert record["component"] == "api"
    assert "builtins.ValueError" in record["exception"]
    assert "builtins.RuntimeError" in record["exception"]
    assert "_fail_with" in record["exception"]


def test_stdlib_messages_get_the_same_mask(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("hub", "json", "info")
    logging.getLogger("httpx").warning("sent for %s", "01017012345")
    err = capsys.readouterr().err
    assert "01017012345" not in err
    assert json.loads(err.strip().splitlines()[-1])["event"] == f"sent for {MASK}"
