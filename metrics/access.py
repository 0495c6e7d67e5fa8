"""Prometheus metrics of access control: the principals file's state."""

from prometheus_client import CollectorRegistry, Gauge


class AccessMetrics:
    """Principals in force, and whether the file's last change was accepted."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.principals = Gauge(
            "meldingshub_principals",
            "Principals in force (the last good principals file).",
            registry=registry,
        )
        self.file_valid = Gauge(
            "meldingshub_principals_file_valid",
            "1 while the principals file's last change was accepted; 0: the file on disk is "
            "refused and the last good principals stay in force (see the log).",
            registry=registry,
        )

    def set_state(self, valid: bool, count: int) -> None:
        """Record the outcome of a load of the principals file."""
        self.file_valid.set(1 if valid else 0)
        self.principals.set(count)
