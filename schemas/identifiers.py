"""The one strict parser of HER-ids, used wherever one arrives from outside the hub.

``str.isdigit()`` is true for superscripts and other Unicode digits that ``int()``
refuses, and ``int()`` itself accepts Arabic-Indic digits, underscores, signs and
Unicode spaces. A HER-id is none of that: one to nine ASCII digits, at least 1.
Envelope, AMQP headers, register files and query parameters all go through
:func:`parse_her_id`, so one odd value is refused everywhere in the same way
instead of crashing one adapter.
"""

import re

from pydantic import BeforeValidator

MAX_HER_ID = 999_999_999
"""The largest HER-id (nine digits)."""

_HER_ID = re.compile(r"[0-9]{1,9}")
_XML_SPACE = " \t\r\n"
"""Surrounding whitespace XML and header values may carry; nothing else is trimmed."""


def parse_her_id(value: object) -> int | None:
    """The HER-id ``value`` names, or ``None`` when it is not one.

    Accepts an ``int`` in range, or text (``str`` or ASCII ``bytes``) of one to nine
    ASCII digits with optional surrounding XML whitespace. Never raises.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= MAX_HER_ID else None
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    text = value.strip(_XML_SPACE)
    if _HER_ID.fullmatch(text) is None:
        return None
    number = int(text)
    return number if number >= 1 else None


def _validate(value: object) -> int:
    parsed = parse_her_id(value)
    if parsed is None:
        raise ValueError(f"a HER-id is 1 to 9 ASCII digits from 1 to {MAX_HER_ID}")
    return parsed


STRICT_HER_ID = BeforeValidator(_validate)
"""Metadata for an ``Annotated[int, ...]`` HER-id field or parameter (pydantic, FastAPI)."""
