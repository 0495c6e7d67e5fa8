"""DPoP proofs are taken once across every API replica sharing the hub's database."""

import sqlalchemy as sa

from hubstats import schema
from hubstats.proofs import SharedProofs
from hubstats.store import StatisticsStore


def test_a_proof_taken_by_one_replica_is_refused_by_another(store: StatisticsStore) -> None:
    other_engine = sa.create_engine(store.engine.url)  # the second replica's own connections
    try:
        one = SharedProofs(store.engine, window_s=300)
        other = SharedProofs(other_engine, window_s=300)
        assert one.first_use("thumb-a", "jti-1")
        assert not other.first_use("thumb-a", "jti-1")
        assert not one.first_use("thumb-a", "jti-1")
        assert other.first_use("thumb-a", "jti-2")  # another proof
        assert other.first_use("thumb-b", "jti-1")  # the same jti from another key
    finally:
        other_engine.dispose()


def test_an_expired_proof_may_be_taken_again_and_no_client_text_is_kept(
    store: StatisticsStore,
) -> None:
    expired = SharedProofs(store.engine, window_s=0)  # every entry is expired at once
    assert expired.first_use("thumb-a", "jti-1")
    assert expired.first_use("thumb-a", "jti-1")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.dpop_proofs)).all()
    assert len(rows) == 1
    assert all(b"jti" not in row.digest and len(row.digest) == 16 for row in rows)
