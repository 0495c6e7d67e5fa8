"""structlog set-up: JSON lines in production, a console renderer on a terminal.

Every record carries ``component``; callers bind ``message_id`` where they know it.
A last-line guard masks anything shaped like a Norwegian national identity
number (11 digits), so a slip elsewhere cannot put one in a log.
"""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

_ELEVEN_DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")
MASK = "<masked>"


def mask_identity_numbers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace 11-digit runs (fødselsnummer, D-nummer shapes) in string values."""
    for key, value in event_dict.items():
        if isinstance(value, str) and _ELEVEN_DIGITS.search(value):
            event_dict[key] = _ELEVEN_DIGITS.sub(MASK, value)
    return event_dict


_process_component = "hub"


def add_component(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Name the process's component unless the record (or its thread) names one already."""
    event_dict.setdefault("component", _process_component)
    return event_dict


def configure_logging(
    component: str,
    log_format: Literal["auto", "json", "console"] = "auto",
    level: str = "info",
) -> None:
    """Configure structlog (and the stdlib root logger) for this process."""
    use_console = log_format == "console" or (log_format == "auto" and sys.stdout.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    global _process_component
    _process_component = component
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_component,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_identity_numbers,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric_level, logging.WARNING), stream=sys.stderr, force=True)
    # pika logs the first bytes of a returned message body at WARNING: that can be patient data.
    logging.getLogger("pika").setLevel(logging.ERROR)
