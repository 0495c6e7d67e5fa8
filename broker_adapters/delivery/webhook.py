"""Webhook endpoint: POST the document to the receiver's HTTPS URL, signed and idempotent.

Every request carries ``Idempotency-Key`` (``<hub message id>:<receiver HER-id>``,
the same on every attempt), the MsgId and the HER-ids, and — when a secret is
configured — ``X-Meldingshub-Signature: sha256=<hex>``, an HMAC-SHA256 over
``<timestamp>.<idempotency key>.`` followed by the body, with the timestamp in
``X-Meldingshub-Timestamp`` so a receiver can refuse replays. 2xx is delivered;
4xx other than 408 and 429 is a permanent failure (the receiver refuses this
message); anything else, and any transport error, is retried.
"""

import hashlib
import hmac
import time

import httpx

from addressregister.model import EndpointKind
from broker_adapters.delivery.base import Attempt, Delivered, Endpoint, Failed, Handover

SIGNATURE_HEADER = "X-Meldingshub-Signature"
TIMESTAMP_HEADER = "X-Meldingshub-Timestamp"
_RETRIED_CLIENT_ERRORS = frozenset({408, 429})


def signature(secret: bytes, timestamp: str, idempotency_key: str, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER` for one request."""
    mac = hmac.new(secret, f"{timestamp}.{idempotency_key}.".encode(), hashlib.sha256)
    mac.update(body)
    return f"sha256={mac.hexdigest()}"


class WebhookEndpoint(Endpoint):
    """One pooled HTTP client for every receiver's URL (http:// is for loopback tests only)."""

    kind = EndpointKind.WEBHOOK

    def __init__(self, secret: str = "", timeout_s: float = 5.0) -> None:
        self._secret = secret.encode()
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def deliver(self, handover: Handover) -> Attempt:
        """POST once and classify the answer."""
        url = handover.address
        if not url.startswith(("https://", "http://")):
            return Failed("webhook address is not an http(s) URL", permanent=True)
        message = handover.message
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/xml",
            "Idempotency-Key": handover.idempotency_key,
            "X-Meldingshub-Message-Id": str(message.hub_message_id),
            "X-Meldingshub-Msg-Id": handover.message_id,
            "X-Meldingshub-To-Her-Id": str(handover.receiver_her_id),
            "X-Meldingshub-Attempt": str(handover.attempt),
            TIMESTAMP_HEADER: timestamp,
        }
        if message.sender_her_id is not None:
            headers["X-Meldingshub-From-Her-Id"] = str(message.sender_her_id)
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(
                self._secret, timestamp, handover.idempotency_key, message.payload
            )
        try:
            response = self._client.post(url, content=message.payload, headers=headers)
        except httpx.TimeoutException:
            return Failed("webhook timed out")
        except httpx.HTTPError as exc:
            return Failed(f"webhook unreachable ({type(exc).__name__})")
        status = response.status_code
        if 200 <= status < 300:
            return Delivered()
        permanent = 400 <= status < 500 and status not in _RETRIED_CLIENT_ERRORS
        return Failed(f"webhook answered HTTP {status}", permanent=permanent)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
