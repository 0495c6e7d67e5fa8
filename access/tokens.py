"""Bearer tokens: made once, shown once, stored and looked up only as their SHA-256 hash.

A token is 256 random bits, so a plain hash cannot be reversed and is enough to
look it up; nothing the hub stores can be replayed as a credential.
"""

import hashlib
import secrets

TOKEN_HASH_PREFIX = "sha256:"  # noqa: S105  (a label, not a secret)
_TOKEN_PREFIX = "mhub_"  # noqa: S105


def token_hash(token: str) -> str:
    """The form a bearer token is stored and looked up in: ``sha256:<hex>``."""
    return TOKEN_HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token: 256 random bits, URL-safe, with a recognisable prefix."""
    return _TOKEN_PREFIX + secrets.token_urlsafe(32)
