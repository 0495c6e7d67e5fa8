"""Webhook endpoint: POST the document to the receiver's HTTPS URL, signed with the receiver's
own key, with a hard deadline on the whole exchange.

Every request carries ``Idempotency-Key`` (``<hub message id>:<receiver HER-id>``,
the same on every attempt), the MsgId, the HER-ids, ``X-Meldingshub-Timestamp``
and ``X-Meldingshub-Signature: sha256=<hex>``: an HMAC-SHA256 with the
receiver's key (:mod:`~broker_adapters.delivery.webhook_keys`) over
:func:`signed_text` (timestamp, idempotency key, From, To, MsgId, one per line)
followed by the body, so none of them can be altered or replayed unnoticed.

``http://`` is refused except to a loopback host. The request, from connecting
to the end of the answer, must finish within ``timeout_s`` (a receiver that
drips its answer is cut off), and at most ``max_response_bytes`` of the answer
are read. The calls run on one event loop thread, where a deadline can cancel
any wait. 2xx is delivered; 4xx other than 408 and 429 is a permanent failure
(the receiver refuses this message); anything else is retried.
"""

import asyncio
import concurrent.futures
import hashlib
import hmac
import threading
import time

import httpx

from addressregister.model import EndpointKind
from addressregister.validation import webhook_address_problem
from broker_adapters.delivery.base import Attempt, DeliveryEndpoint, Failed, HandedOver, Handover
from broker_adapters.delivery.webhook_keys import WebhookKeyError, WebhookKeys

SIGNATURE_HEADER = "X-Meldingshub-Signature"
TIMESTAMP_HEADER = "X-Meldingshub-Timestamp"
FROM_HEADER = "X-Meldingshub-From-Her-Id"
TO_HEADER = "X-Meldingshub-To-Her-Id"
MSG_ID_HEADER = "X-Meldingshub-Msg-Id"
_RETRIED_CLIENT_ERRORS = frozenset({408, 429})


def signed_text(
    timestamp: str, idempotency_key: str, sender: str, receiver: str, msg_id: str
) -> bytes:
    """What the signature covers before the body: the fields one per line, ending in one.

    ``sender`` is empty when the message names no sender HER-id. Header values cannot
    hold a line break, so the split is unambiguous.
    """
    return f"{timestamp}\n{idempotency_key}\n{sender}\n{receiver}\n{msg_id}\n".encode()


def signature(key: bytes, text: bytes, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER` for one request."""
    mac = hmac.new(key, text, hashlib.sha256)
    mac.update(body)
    return f"sha256={mac.hexdigest()}"


class WebhookEndpoint(DeliveryEndpoint):
    """One pooled async HTTP client on its own event loop thread, for every receiver's URL."""

    kind = EndpointKind.WEBHOOK

    def __init__(
        self,
        keys: WebhookKeys | None = None,
        timeout_s: float = 10.0,
        max_response_bytes: int = 65_536,
    ) -> None:
        self._keys = keys or WebhookKeys()
        self._timeout_s = timeout_s
        self._max_response_bytes = max_response_bytes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._start_lock = threading.Lock()

    def deliver(self, handover: Handover) -> Attempt:
        """POST once within the deadline and classify the answer."""
        url = handover.address
        problem = webhook_address_problem(
            url
        )  # the register checks it too; an old snapshot may not
        if problem is not None:
            return Failed(f"webhook address {problem}", permanent=True)
        try:
            key = self._keys.key_for(handover.receiver_her_id)
        except WebhookKeyError as exc:
            return Failed(str(exc))
        if key is None:
            return Failed("no webhook signing key for this receiver in the webhook keys file")
        message = handover.message
        timestamp = str(int(time.time()))
        sender = "" if message.sender_her_id is None else str(message.sender_her_id)
        receiver = str(handover.receiver_her_id)
        text = signed_text(
            timestamp, handover.idempotency_key, sender, receiver, handover.message_id
        )
        headers = {
            "Content-Type": "application/xml",
            "Idempotency-Key": handover.idempotency_key,
            "X-Meldingshub-Message-Id": str(message.hub_message_id),
            MSG_ID_HEADER: handover.message_id,
            TO_HEADER: receiver,
            "X-Meldingshub-Attempt": str(handover.attempt),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(key, text, message.payload),
        }
        if sender:
            headers[FROM_HEADER] = sender
        loop = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._post(url, message.payload, headers), loop)
        try:  # the coroutine keeps the deadline itself; this only guards against a stuck loop
            return future.result(self._timeout_s + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Failed(f"webhook did not answer within {self._timeout_s:g} s")

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        assert self._client is not None
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._client.stream(
                    "POST", url, content=body, headers=headers
                ) as answer:
                    read = 0
                    async for chunk in answer.aiter_raw():
                        read += len(chunk)
                        if read > self._max_response_bytes:
                            break  # the status is all we need; the rest is not read
                    status = answer.status_code
        except TimeoutError:
            return Failed(f"webhook did not answer within {self._timeout_s:g} s")
        except httpx.HTTPError as exc:
            return Failed(f"webhook unreachable ({type(exc).__name__})")
        if 200 <= status < 300:
            return HandedOver()
        permanent = 400 <= status < 500 and status not in _RETRIED_CLIENT_ERRORS
        return Failed(f"webhook answered HTTP {status}", permanent=permanent)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """Start the event loop thread and the client on first use (nothing runs before)."""
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="webhook-io", daemon=True).start()
                self._client = asyncio.run_coroutine_threadsafe(self._new_client(), loop).result()
                self._loop = loop
            return self._loop

    async def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)

    def close(self) -> None:
        """Close the connection pool and stop the loop thread."""
        with self._start_lock:
            loop, client, self._loop, self._client = self._loop, self._client, None, None
        if loop is None or client is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(5)
        except (concurrent.futures.TimeoutError, httpx.HTTPError):
            pass
        finally:
            loop.call_soon_threadsafe(loop.stop)
