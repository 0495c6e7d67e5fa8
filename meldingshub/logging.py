"""structlog set-up: JSON lines in production, a console renderer on a terminal.

Every record carries ``component``; callers bind ``message_id`` where they know it.
Records of the standard library's loggers (uvicorn, httpx, pika) go through the
same chain. Last-line guards: anything shaped like a Norwegian national identity
number (11 digits) is masked at any depth, and a traceback keeps only its frames
and exception types (no locals, no messages that may quote a document), so a
slip elsewhere cannot put patient data in a log.
"""

import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, Literal, TextIO

import structlog

from hubcore.errors import MeldingshubError

_ELEVEN_DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")
MASK = "<masked>"


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return _ELEVEN_DIGITS.sub(MASK, value) if _ELEVEN_DIGITS.search(value) else value
    if isinstance(value, dict):
        return {_masked(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(item) for item in value]
    return value


def mask_identity_numbers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace 11-digit runs (fødselsnummer, D-nummer shapes) in values at any depth."""
    for key, value in event_dict.items():
        event_dict[key] = _masked(value)
    return event_dict


def _exc_info(value: Any) -> tuple[type[BaseException], BaseException, TracebackType | None] | None:
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and value[1] is not None:
        return value
    if value is True:
        current = sys.exc_info()
        return current if current[1] is not None else None
    return None


def _describe(exc: BaseException) -> str:
    """The exception's type; its message only when it is the hub's own (those carry no data)."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return f"{name}: {exc}" if isinstance(exc, MeldingshubError) else name


def safe_traceback(exc: BaseException) -> str:
    """Frames (file, line, function) and exception types of ``exc`` and its causes."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
        parts.append("\n".join(["Traceback (most recent call last):", *lines, _describe(current)]))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\n\nCaused by:\n".join(parts)


def safe_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Render ``exc_info`` as :func:`safe_traceback`, in place of the usual formatter."""
    found = _exc_info(event_dict.pop("exc_info", None))
    if found is not None:
        event_dict["exception"] = safe_traceback(found[1])
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
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the stdlib root logger for this process, through one chain.

    ``stream``: where both write (default: structlog to stdout, the stdlib to stderr).
    """
    use_console = log_format == "console" or (log_format == "auto" and sys.stdout.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    global _process_component
    _process_component = component
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_component,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        safe_exception,
        mask_identity_numbers,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    logging.basicConfig(level=max(numeric_level, logging.WARNING), handlers=[handler], force=True)
    # Loggers that a library gave its own handlers (uvicorn does) would bypass the chain.
    for existing in logging.root.manager.loggerDict.values():
        if isinstance(existing, logging.Logger):
            existing.handlers.clear()
            existing.propagate = True
    # pika logs the first bytes of a returned message body at WARNING: that can be patient data.
    logging.getLogger("pika").setLevel(logging.ERROR)
