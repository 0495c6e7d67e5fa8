"""Kafka plumbing every stage reuses: client configuration, topic bootstrap, durable producer
and the transactional consume-process-produce loop.

Import from here: :func:`client_config`, :func:`ensure_topics`,
:func:`wait_until_reachable`, :class:`DurableProducer`, :class:`TransactionalLoop`,
:class:`OutRecord`, and :func:`readable` / :func:`is_filler`, which every reader of a hub
topic uses to skip the embedded broker's checkpoint fillers.
"""

from kafka_io.admin import BrokerUnreachableError, ensure_topics, wait_until_reachable
from kafka_io.config import client_config, consumer_config, producer_config
from kafka_io.placed_records import is_filler, readable
from kafka_io.producer import DeliveryFailedError, DurableProducer
from kafka_io.records import OutRecord, headers_of
from kafka_io.transactional import TransactionalLoop

__all__ = [
    "BrokerUnreachableError",
    "DeliveryFailedError",
    "DurableProducer",
    "OutRecord",
    "TransactionalLoop",
    "client_config",
    "consumer_config",
    "ensure_topics",
    "headers_of",
    "is_filler",
    "producer_config",
    "readable",
    "wait_until_reachable",
]
