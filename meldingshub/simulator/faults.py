"""The faults the simulator injects, and what the hub must do with each.

Every fault is a realistic mistake of a sending system, with the outcome the
standard prescribes (AppRec error codes, kodeverk 8221):

* ``malformed``: the document is cut off (a broken transfer) -> T01, no AppRec
  (the hub cannot read whom to answer); transports that screen XML refuse it.
* ``invalid``: MIGversion left out -> T02 (does not validate).
* ``bad_msg_id``: a MsgId that is not a UUID -> E10.
* ``unknown_receiver``: a HER-id that is not in the register -> E21.
* ``spoofed_sender``: a system sends in another organisation's name -> X99 from
  the router, or refused by an ingress adapter that checks the principal.
* ``resend``: the same document sent again (same MsgId) -> a duplicate, no
  second routing and no second AppRec.
"""

import random
from enum import StrEnum

from addressregister.index import RegisterIndex
from schemas.vocabulary import AppRecErrorCode


class FaultKind(StrEnum):
    """A kind of faulty message."""

    MALFORMED = "malformed"
    INVALID = "invalid"
    BAD_MSG_ID = "bad_msg_id"
    UNKNOWN_RECEIVER = "unknown_receiver"
    SPOOFED_SENDER = "spoofed_sender"
    RESEND = "resend"


EXPECTED_CODE: dict[FaultKind, AppRecErrorCode] = {
    FaultKind.MALFORMED: AppRecErrorCode.T01,
    FaultKind.INVALID: AppRecErrorCode.T02,
    FaultKind.BAD_MSG_ID: AppRecErrorCode.E10,
    FaultKind.UNKNOWN_RECEIVER: AppRecErrorCode.E21,
    FaultKind.SPOOFED_SENDER: AppRecErrorCode.X99,
}
"""The AppRec error code the router rejects each fault with (a resend is no rejection)."""

INGRESS_REFUSAL: dict[FaultKind, str] = {
    FaultKind.MALFORMED: "not_xml",
    FaultKind.SPOOFED_SENDER: "sender_not_allowed",
}
"""Faults an ingress adapter (HTTP, AMQP, file) refuses before the router sees them."""

_UNKNOWN_HER_IDS = (7_000_000, 7_999_999)
"""HER-ids the synthetic register never hands out (it counts up from 1,000,000)."""


def truncate(raw: bytes, rng: random.Random) -> bytes:
    """The document cut off somewhere between 30 % and 90 % of its length."""
    return raw[: int(len(raw) * rng.uniform(0.3, 0.9))]


def bad_msg_id(rng: random.Random) -> str:
    """A message id of the kind old systems send: a running number, not a UUID."""
    return f"MSG-{rng.randrange(10**9):09d}"


def unknown_her_id(rng: random.Random, index: RegisterIndex) -> int:
    """A HER-id that is not in the register."""
    while True:
        her_id = rng.randint(*_UNKNOWN_HER_IDS)
        if her_id not in index:
            return her_id
