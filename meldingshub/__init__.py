"""Composition root of the hub: CLI, settings, process wiring and the embedded broker.

Nothing else imports from here except :mod:`hubcore.errors`, the project's
root exception, which every package may raise from.
"""

__version__ = "0.1.0"
