"""The corpus samples and their register, shared with the ingress tests."""

from tests.broker_adapters.ingress.conftest import reader, register, samples

__all__ = ["reader", "register", "samples"]
