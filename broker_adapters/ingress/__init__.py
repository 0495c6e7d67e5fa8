"""Ingress adapters: how systems hand messages to the hub (HTTP, AMQP, Kafka, file catalogue).

Import from here: :class:`IngressAdapter` (the interface), :class:`IngressGate` (checks
and the durable write every adapter shares), :class:`IngressSettings`, and
:func:`ingress_adapters`, which builds the non-HTTP adapters enabled in the settings
(the HTTP API is a router the composition root mounts, see
:mod:`broker_adapters.http.ingress_api`).
"""

from broker_adapters.ingress.assemble import ingress_adapters
from broker_adapters.ingress.base import (
    Accepted,
    IngressAdapter,
    Outcome,
    RefusalReason,
    Refused,
    Submission,
)
from broker_adapters.ingress.gate import IngressGate
from broker_adapters.ingress.settings import IngressSettings

__all__ = [
    "Accepted",
    "IngressAdapter",
    "IngressGate",
    "IngressSettings",
    "Outcome",
    "RefusalReason",
    "Refused",
    "Submission",
    "ingress_adapters",
]
