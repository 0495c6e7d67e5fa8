"""Per-receiver webhook signing keys, from a keys file the operator keeps beside the register.

A receiver's key never lives in the address register (the register is published
to every component and exported); the register names the receiver (its
HER-id), and the keys file maps that HER-id to the key both sides share::

    {"8100001": "a-long-random-secret", "8100002": "another one"}

The file is re-read when its modification time changes, so adding a receiver
needs no restart. A receiver without a key gets no unsigned requests: the
attempt fails (and is retried) until the operator adds its key.
"""

import json
import threading
from pathlib import Path

from broker_adapters.delivery.errors import DeliveryError


class WebhookKeyError(DeliveryError):
    """The webhook keys file cannot be read or is not a JSON object of HER-id -> key."""


class WebhookKeys:
    """HER-id -> signing key, reloaded when the file changes (thread-safe)."""

    def __init__(self, path: Path | None = None, keys: dict[int, bytes] | None = None) -> None:
        self._path = path
        self._keys = dict(keys or {})
        self._stamp: int | None = None
        self._lock = threading.Lock()

    def key_for(self, her_id: int) -> bytes | None:
        """The receiver's key; None when it has none (or the file is unreadable)."""
        with self._lock:
            self._reload()
            return self._keys.get(her_id)

    def _reload(self) -> None:
        if self._path is None:
            return
        try:
            stamp = self._path.stat().st_mtime_ns
        except OSError:
            self._keys, self._stamp = {}, None
            return
        if stamp != self._stamp:
            self._keys = load_keys(self._path)
            self._stamp = stamp


def load_keys(path: Path) -> dict[int, bytes]:
    """Parse the keys file; raise :class:`WebhookKeyError` naming what is wrong (never a key)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WebhookKeyError(
            f"webhook keys file {path} is unreadable ({type(exc).__name__}); "
            'it must be a JSON object like {"<HER-id>": "<key>"}'
        ) from None
    if not isinstance(data, dict):
        raise WebhookKeyError(f"webhook keys file {path} must hold a JSON object")
    keys: dict[int, bytes] = {}
    for her_id, key in data.items():
        if not str(her_id).isdigit() or not isinstance(key, str) or len(key) < 16:
            raise WebhookKeyError(
                f"webhook keys file {path}: entry {her_id!r} needs a numeric HER-id and a key "
                "of at least 16 characters"
            )
        keys[int(her_id)] = key.encode()
    return keys
