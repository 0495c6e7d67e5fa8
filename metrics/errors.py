"""Errors of the metrics, statistics store, export and report."""

from meldingshub.errors import MeldingshubError


class MetricsError(MeldingshubError):
    """Base of the errors raised by :mod:`metrics`."""


class StoreError(MetricsError):
    """The statistics store cannot be opened, migrated or written."""


class StoreVersionError(StoreError):
    """The store was migrated by a newer hub than this one."""


class QueryError(MetricsError):
    """A statistics query names an unknown dimension, granularity or an empty period."""
