"""Rendering console pages: Jinja2 with autoescape, and the headers every console answer has.

Every value a page shows goes through autoescape; no template marks anything safe.
The Content-Security-Policy allows the console's own stylesheet and nothing else
(no script, no frames, forms only to the console itself).
"""

from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_FORM_BYTES: Final = 64 * 1024
"""A console form is a CSRF token and some ids; anything larger is refused unread."""

_HERE = Path(__file__).parent
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
STYLESHEET: Final = (_HERE / "static" / "console.css").read_bytes()


def _age(seconds: float) -> str:
    """A span of time the way an operator reads it: ms, s, min or h."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


_templates.filters["age"] = _age
_templates.filters["duration"] = lambda seconds: "+" + _age(seconds)


def secure(response: Response) -> Response:
    """``response`` with the console's security headers."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def page(template: str, http_status: int = 200, /, **context: Any) -> HTMLResponse:
    """The rendered page ``template`` with the security headers."""
    html = _templates.get_template(template).render(**context)
    response = HTMLResponse(html, status_code=http_status)
    secure(response)
    return response


async def form(request: Request) -> dict[str, list[str]]:
    """The fields of an ``application/x-www-form-urlencoded`` body (bounded); none when it
    is larger or has more fields than a console form."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    try:
        return parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=1000)
    except ValueError:  # more fields than that: no console form has them
        return {}


def first(fields: dict[str, list[str]], name: str) -> str:
    """The first value of a form field, or an empty string."""
    values = fields.get(name)
    return values[0] if values else ""
