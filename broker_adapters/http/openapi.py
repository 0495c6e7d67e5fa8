"""The ingress API's OpenAPI document, committed as ``broker_adapters/http/openapi.json``.

Regenerate after changing the API: ``.venv/bin/python -m broker_adapters.http.openapi``
(a test fails while the committed file differs from the generated one).
"""

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from access.principals import Principals
from access.principals_file import PrincipalsFile
from broker_adapters.http.ingress_api import IngressApiDeps, ingress_router
from broker_adapters.ingress.base import Outcome, RefusalReason, Refused, Submission
from broker_adapters.ingress.settings import IngressSettings
from schemas.xmlparse import ParseLimits

COMMITTED = Path(__file__).with_name("openapi.json")


class _NoGate:
    """Stands in for the gate: the document depends only on the routes, never on Kafka."""

    settings = IngressSettings()
    max_message_bytes = ParseLimits().max_bytes

    def submit(self, submission: Submission) -> Outcome:
        return Refused(RefusalReason.BROKER_UNAVAILABLE, "documentation only")

    def count_received(self, adapter: str) -> None:
        return None

    def count_refused(self, adapter: str, refused: Refused) -> None:
        return None


def ingress_openapi() -> dict[str, Any]:
    """The OpenAPI document of the ingress routes alone."""
    app = FastAPI(
        title="meldingshub ingress API",
        version="1.0",
        description="Submit messages to the hub and follow their status.",
    )
    app.include_router(
        ingress_router(IngressApiDeps(_NoGate(), PrincipalsFile.fixed(Principals.open())))
    )
    return app.openapi()


def render(document: dict[str, Any]) -> str:
    """The committed form: indented, keys in generation order, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    COMMITTED.write_text(render(ingress_openapi()), encoding="utf-8")
    print(f"wrote {COMMITTED}")
