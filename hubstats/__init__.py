"""The hub's SQL database: exact statistics, message status, migrations, export and report.

Fed by the ``aggregator`` component from ``hub.events``; read by the status API, the
statistics API and the CLI. Public surface (import from the modules, so a process that
only needs one part does not load FastAPI or matplotlib):

* :class:`hubstats.store.StatisticsStore` — ``open(dsn)``, ``apply(events)``,
  ``message_status(hub_message_id)`` (for the status API), ``prune(before)``.
* :class:`hubstats.aggregator.StatisticsAggregator` — the ``aggregator`` component.
* :func:`hubstats.api.statistics_router` — ``GET /v1/statistics``.
* :mod:`hubstats.export`, :mod:`hubstats.report`, :mod:`hubstats.charts` — used by the CLI.
* :class:`hubstats.settings.StatisticsSettings` — ``MELDINGSHUB_STATISTICS__*``.

Counting rules and the export's columns: ``hubstats/README.md``.
"""
