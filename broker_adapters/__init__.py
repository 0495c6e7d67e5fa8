"""Transports in and out of the hub: Kafka plumbing, ingress adapters and delivery endpoints.

Others may import :mod:`kafka_io` (topic bootstrap, durable producer,
transactional consume-process-produce loop) and the ingress and delivery interfaces.
Adapters know nothing about XML internals.
"""
