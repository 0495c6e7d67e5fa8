"""Errors of the statistics store, its export and the monitor report."""

from hubcore.errors import MeldingshubError


class StatisticsError(MeldingshubError):
    """Base of the errors raised by :mod:`hubstats`."""


class StoreError(StatisticsError):
    """The statistics store cannot be opened, migrated or written."""


class StoreVersionError(StoreError):
    """The store was migrated by a newer hub than this one."""


class QueryError(StatisticsError):
    """A statistics query names an unknown dimension, granularity or an empty period."""
