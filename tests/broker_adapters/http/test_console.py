"""The operator console of a running hub (every component, real broker and store), driven in
Debian's headless Chromium: log in, find a delivered message by MsgId and read its timeline,
open a rejected one and see its AppRec code, replay a dead letter; and who may not enter.

Each page's screenshot is kept under ``var/test-artefacts/console/``.
"""

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from access.principals import Principal, Role
from access.tokens import new_token, token_hash
from tests.broker_adapters.http.support import (
    RECEIVER_ORG,
    RECEIVER_SERVICE,
    SAMPLE,
    SENDER_ORG,
    msh_register,
)
from tests.broker_adapters.ingress.support import with_new_msg_id
from tests.support.running_hub import InProcessHub, running_hub
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parents[3] / "var" / "test-artefacts" / "console"
UNKNOWN_ORG, UNKNOWN_SERVICE = 777_001, 777_002
PATIENT_ID = "13116900216"
"""The (synthetic) patient's id in the sample: only the show-document page may contain it."""
TOKENS = {name: new_token() for name in ("operator", "receiver")}


@pytest.fixture(scope="module")
def hub(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessHub]:
    extra = [
        Principal(
            "ops",
            frozenset({SENDER_ORG}),
            roles=frozenset({Role.OPERATOR}),
            token_hashes=frozenset({token_hash(TOKENS["operator"])}),
        ),
        Principal(
            "receiver-only",
            frozenset({RECEIVER_ORG}),
            roles=frozenset({Role.RECEIVER}),
            token_hashes=frozenset({token_hash(TOKENS["receiver"])}),
        ),
    ]
    data_dir = tmp_path_factory.mktemp("console-hub")
    with running_hub(kafka_bootstrap, data_dir, msh_register(), extra) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"{CHROMIUM} is missing: install the Debian package 'chromium' "
            "(apt-get install chromium); the console tests drive it headless"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def console(hub: InProcessHub, path: str, token: str | None, **headers: str) -> httpx.Response:
    """A console request with ``token`` as bearer (none when ``None``), not following redirects."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{hub.api}/console{path}", headers=headers, timeout=30)


def submit(hub: InProcessHub, raw: bytes) -> uuid.UUID:
    """Post ``raw`` as the test's sender; the hub message id."""
    response = hub.post(raw)
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["id"])


def state_of(hub: InProcessHub, msg_id: str) -> str | None:
    """The state the console's search shows for ``msg_id`` (bearer token), once it has one."""
    html = console(hub, f"/messages?q={msg_id}", TOKENS["operator"]).text
    found = re.search(r'class="state (\w+)"', html)
    return found.group(1) if found else None


def shoot(page: Page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def test_only_operators_enter(hub: InProcessHub) -> None:
    assert console(hub, "/messages", None).status_code == 401
    assert console(hub, "/messages", "mhub_not-a-token").status_code == 401
    assert console(hub, "/messages", hub.token).status_code == 403  # a sender (and receiver)
    assert console(hub, "/messages", TOKENS["receiver"]).status_code == 403
    browser_get = console(hub, "/messages?q=x", None, Accept="text/html")
    assert browser_get.status_code == 303
    assert browser_get.headers["location"] == "/console/login?next=/console/messages%3Fq%3Dx"
    allowed = console(hub, "/messages", TOKENS["operator"])
    assert allowed.status_code == 200
    assert "script-src" not in allowed.headers["content-security-policy"]
    assert "default-src 'none'" in allowed.headers["content-security-policy"]
    # a replay by a sender's session cannot happen: POSTs need the operator too
    refused = httpx.post(
        f"{hub.api}/console/dead-letters/replay",
        headers={"Authorization": f"Bearer {hub.token}"},
        content=b"id=x",
        timeout=30,
    )
    assert refused.status_code == 403


def test_console_in_a_browser(hub: InProcessHub, browser: Browser) -> None:
    delivered_raw, delivered_msg_id = with_new_msg_id(SAMPLE.read_bytes())
    delivered = submit(hub, delivered_raw)
    unknown = SAMPLE.read_bytes()
    unknown = unknown.replace(
        f"<Id>{RECEIVER_ORG}</Id>".encode(), f"<Id>{UNKNOWN_ORG}</Id>".encode()
    )
    unknown = unknown.replace(
        f"<Id>{RECEIVER_SERVICE}</Id>".encode(), f"<Id>{UNKNOWN_SERVICE}</Id>".encode()
    )
    rejected_raw, rejected_msg_id = with_new_msg_id(unknown)
    rejected = submit(hub, rejected_raw)
    wait_for(lambda: state_of(hub, delivered_msg_id) == "delivered", 90, "delivered in the store")
    wait_for(lambda: state_of(hub, rejected_msg_id) == "rejected", 90, "rejected in the store")

    context = browser.new_context(viewport={"width": 1100, "height": 720})
    page = context.new_page()
    try:
        # log in: the console sends a browser without a session to the login form
        page.goto(f"{hub.api}/console/messages")
        expect(page).to_have_url(re.compile(r"/console/login\?next="))
        page.fill("#token", hub.token)  # a sender's token is not an operator's
        page.click("#login")
        expect(page.locator("#login-error")).to_contain_text("not an operator")
        shoot(page, "login")
        page.fill("#token", TOKENS["operator"])
        page.click("#login")
        expect(page).to_have_url(re.compile(r"/console/messages$"))
        cookie = next(c for c in context.cookies() if c["name"] == "meldingshub_console")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # a delivered message, found by its MsgId, with its whole timeline
        page.fill("#q", delivered_msg_id)
        page.click("#search")
        expect(page.locator("table.messages tbody tr")).to_have_count(1)
        expect(page.locator("table.messages")).to_contain_text("delivered")
        shoot(page, "messages")
        page.click(f"text={delivered_msg_id}")
        expect(page).to_have_url(re.compile(f"/console/messages/{delivered}$"))
        timeline = page.locator("#timeline")
        for stage in ("accepted", "routed", "delivered"):
            expect(timeline).to_contain_text(stage)
        expect(timeline).to_contain_text("endpoint mailbox")
        expect(page.locator("#msg-id")).to_have_text(delivered_msg_id)
        assert PATIENT_ID not in page.content()  # the document is not shown by default
        shoot(page, "message")
        page.click("#show-document")  # a logged POST with the session's CSRF token
        expect(page.locator("pre.document")).to_contain_text(PATIENT_ID)

        # a rejected one: its AppRec code on the timeline
        page.goto(f"{hub.api}/console/messages?q={rejected_msg_id}")
        page.click(f"text={rejected_msg_id}")
        code = page.locator("#timeline .apprec-code").first
        expect(code).to_have_text(re.compile(r"^E\d\d$"))
        expect(page.locator("#reason-code")).to_have_text(code.inner_text())
        shoot(page, "rejected")

        # its dead letter, replayed from the console and noted on its timeline
        page.goto(f"{hub.api}/console/dead-letters")
        page.check(f'input[name="id"][value="{rejected}"]')
        shoot(page, "dead-letters")
        page.click("#replay")
        expect(page.locator("#replayed")).to_contain_text(str(rejected))
        shoot(page, "replayed")
        page.goto(f"{hub.api}/console/messages/{rejected}")
        expect(page.locator("#timeline")).to_contain_text("replayed")
        expect(page.locator("#timeline")).to_contain_text("by ops as")

        page.goto(f"{hub.api}/console/receivers?lookup={RECEIVER_ORG}")
        expect(page.locator("table.parties")).to_contain_text(f"Part {RECEIVER_ORG}")
        expect(page.locator("table.receivers")).to_contain_text(str(RECEIVER_ORG))
        shoot(page, "receivers")
        page.goto(f"{hub.api}/console/health")
        expect(page.locator("#health")).to_contain_text("broker")
        shoot(page, "health")
    finally:
        context.close()
