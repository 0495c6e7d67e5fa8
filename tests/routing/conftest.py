"""The corpus, a register built for it and the reader, shared by the router tests."""

import pytest

from addressregister.index import RegisterIndex
from meldingshub.settings import Settings
from schemas.reader import MessageReader
from tests.support.corpus_register import Sample, accepted_samples, consistent, register_for


@pytest.fixture(scope="module")
def reader() -> MessageReader:
    return MessageReader(Settings().schemas)


@pytest.fixture(scope="module")
def samples(reader: MessageReader) -> list[Sample]:
    return consistent(accepted_samples(reader))


@pytest.fixture(scope="module")
def register(samples: list[Sample]) -> RegisterIndex:
    return register_for(samples)
