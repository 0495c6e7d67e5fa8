"""Corpus samples and a register for the ingress tests (built once per session)."""

import pytest

from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from tests.support.corpus_register import Sample, accepted_samples, consistent, register_for


@pytest.fixture(scope="session")
def reader() -> MessageReader:
    return MessageReader(SchemaSettings())


@pytest.fixture(scope="session")
def samples(reader: MessageReader) -> list[Sample]:
    return consistent(accepted_samples(reader))


@pytest.fixture(scope="session")
def register(samples: list[Sample]) -> RegisterIndex:
    return register_for(samples)


@pytest.fixture(scope="session")
def register_view(register: RegisterIndex) -> StaticRegister:
    """The corpus register as the gate reads it: loaded, never changing."""
    return StaticRegister(register)
