"""The MSH API's OpenAPI document as the hub serves it, committed as ``msh/openapi.json``.

FastAPI documents what it parses itself; the MSH routes read their JSON bodies
themselves (``text/json`` too, with a size cap), so :func:`complete` adds the
request schemas and drops the 422 FastAPI assumes (these routes answer 400).
:func:`install` makes an application serve the completed document.

Regenerate after changing the API: ``.venv/bin/python -m broker_adapters.http.msh.openapi``
(a test fails while the committed file differs from the generated one, and another
holds its paths, parameters and schemas to NHN's description).
"""

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from access.principals import Principals
from access.principals_file import PrincipalsFile
from addressregister.index import RegisterIndex
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.http.msh.caller import BearerAuthenticator, authenticators
from broker_adapters.http.msh.models import PostAppRecRequest, PostMessageRequest
from broker_adapters.http.msh.routes import MshDeps, msh_router
from broker_adapters.ingress.base import Outcome, RefusalReason, Refused, Submission
from broker_adapters.ingress.settings import IngressSettings
from metrics.store import create_store_engine

COMMITTED = Path(__file__).with_name("openapi.json")
_BODIES: tuple[type[BaseModel], ...] = (PostMessageRequest, PostAppRecRequest)
_PATHS = "/Messages"


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the MSH request schemas in its components and no 422 on MSH paths."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in _BODIES:
        schema = model.model_json_schema(
            by_alias=True, ref_template="#/components/schemas/{model}", mode="validation"
        )
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for path, operations in document.get("paths", {}).items():
        if path == _PATHS or path.startswith(_PATHS + "/"):
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's, if nothing else uses them
        text = json.dumps({k: v for k, v in document.items() if k != "components"})
        others = json.dumps({k: v for k, v in schemas.items() if k != name})
        if f"#/components/schemas/{name}" not in text + others:
            schemas.pop(name, None)
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document as the application's ``/openapi.json``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class _NoGate:
    """Stands in for the gate: the document depends only on the routes, never on Kafka."""

    settings = IngressSettings()

    def submit(self, submission: Submission) -> Outcome:
        return Refused(RefusalReason.BROKER_UNAVAILABLE, "documentation only")

    def count_received(self, adapter: str) -> None:
        return None

    def count_refused(self, adapter: str, refused: Refused) -> None:
        return None


def msh_openapi() -> dict[str, Any]:
    """The OpenAPI document of the MSH routes alone."""
    app = FastAPI(
        title="meldingshub MSH API v2",
        version="v2",
        description="NHN's message server REST API (MSH API v2), served by the hub.",
    )
    principals = PrincipalsFile.fixed(Principals.open())
    app.include_router(
        msh_router(
            MshDeps(
                gate=_NoGate(),
                authenticators=authenticators(BearerAuthenticator(principals)),
                mailbox=MailboxStore(create_store_engine("sqlite://")),
                register=RegisterIndex.empty,
            )
        )
    )
    install(app)
    return app.openapi()


def render(document: dict[str, Any]) -> str:
    """The committed form: indented, keys in generation order, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    COMMITTED.write_text(render(msh_openapi()), encoding="utf-8")
    print(f"wrote {COMMITTED}")
