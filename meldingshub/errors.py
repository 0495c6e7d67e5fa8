"""The project's root exception: every error the hub raises on purpose derives from it.

This module imports nothing, so any package may use it without pulling in the
composition root.
"""


class MeldingshubError(Exception):
    """Base of every error the hub raises on purpose.

    The message says what was wrong and what to do about it, and never carries
    patient data.
    """
