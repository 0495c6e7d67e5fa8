"""The project's root exception: every error the hub raises on purpose derives from it.

This module imports nothing, so any package may use it without pulling in the
composition root.
"""


class MeldingshubError(Exception):
    """Base of every error the hub raises on purpose.

    The message says what was wrong and what to do about it, and never carries
    patient data.
    """


_PACKAGES = (
    "/meldingshub/",
    "/broker_adapters/",
    "/routing/",
    "/hubstats/",
    "/addressregister/",
    "/access/",
    "/metrics/",
    "/kafka_io/",
    "/schemas/",
    "/hubcore/",
)


def describe(exc: BaseException) -> str:
    """``ValueError at schemas/envelope.py:95``: where an unexpected error came from.

    For logs, events and dead letters: an unexpected exception's message may quote a
    value from the document (``int()`` does), so only its type and place are told.
    """
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return type(exc).__name__
    path = frame.tb_frame.f_code.co_filename.replace("\\", "/")
    for root in _PACKAGES:
        if root in path:
            path = root.strip("/") + "/" + path.rsplit(root, 1)[1]
            break
    else:
        path = path.rsplit("/", 1)[-1]
    return f"{type(exc).__name__} at {path}:{frame.tb_lineno}"
