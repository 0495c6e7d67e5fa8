"""Prometheus metric definitions: every ``meldingshub_*`` metric, labels from closed sets.

Every package may use them; nothing here imports routing, adapters, the register or the
statistics database. Registries are injected, never module globals.
:class:`metrics.live.HubMetrics` holds the event-driven metrics (``observe(event)``); the
other modules hold each component's own.
"""
