"""Errors of the schemas package.

Bad *messages* are not exceptions for callers: :class:`schemas.reader.MessageReader`
turns them into a :class:`schemas.reader.MessageProblem`. The exceptions here are for
the hub's own configuration (an unusable schema folder) and, internally, for the
parser to hand a rejection with its AppRec code up to the reader.
"""

from hubcore.errors import MeldingshubError
from schemas.vocabulary import AppRecErrorCode


class SchemaError(MeldingshubError):
    """Base of the schemas package's errors."""


class SchemaConfigError(SchemaError):
    """The configured schema folder cannot be used (missing, or without a catalog)."""


class MessageRejectedError(SchemaError):
    """A message failed a check; ``code`` is the AppRec error, ``reason`` safe text.

    The reason names element paths and rules only, never element text, so it may
    be logged and sent back to the sender.
    """

    def __init__(self, code: AppRecErrorCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason
