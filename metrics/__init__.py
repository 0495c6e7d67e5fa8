"""Prometheus metrics, the exact statistics store and aggregator, export and the monitor report.

Every package may use the metric definitions; nothing here imports routing,
adapters or the register. Public surface (import from the modules, so that a
process that only needs metrics does not load SQLAlchemy, FastAPI or matplotlib):

* :class:`metrics.live.HubMetrics` — every ``meldingshub_*`` metric; ``observe(event)``.
* :class:`metrics.store.StatisticsStore` — ``open(dsn)``, ``apply(events)``,
  ``message_status(hub_message_id)`` (for the status API), ``prune(before)``.
* :class:`metrics.aggregator.StatisticsAggregator` — the ``aggregator`` component.
* :func:`metrics.api.statistics_router` — ``GET /v1/statistics``.
* :mod:`metrics.export`, :mod:`metrics.report`, :mod:`metrics.charts` — used by the CLI.
* :class:`metrics.settings.StatisticsSettings` — ``MELDINGSHUB_STATISTICS__*``.

Counting rules and the export's columns: ``metrics/README.md``.
"""
