"""Which broker write errors are permanent (refuse the message) and which are transient (retry).

Treating every write error as transient retries a record the broker will never take
(too large, invalid) for ever; treating any as permanent would refuse messages a
healthy broker takes a moment later. Only errors about the record itself are permanent.
"""

from typing import Literal

from confluent_kafka import KafkaError

PermanentKind = Literal["too_large", "invalid"]

_TOO_LARGE = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})
_INVALID = frozenset(
    {
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_MSG,
        KafkaError._BAD_MSG,
        KafkaError._INVALID_ARG,
    }
)


def permanent_kind(error: KafkaError | None) -> PermanentKind | None:
    """``too_large`` or ``invalid`` for errors about the record itself; ``None``: transient."""
    if error is None:
        return None
    code = error.code()
    if code in _TOO_LARGE:
        return "too_large"
    if code in _INVALID:
        return "invalid"
    return None
