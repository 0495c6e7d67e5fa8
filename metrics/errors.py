"""Errors of the Prometheus metric definitions."""

from hubcore.errors import MeldingshubError


class MetricsError(MeldingshubError):
    """Base of the errors raised by :mod:`metrics` (a label value outside its closed set)."""
