"""The statistics store's tables as the code reads and writes them (SQLite and PostgreSQL).

Every column is a count, a date, a code from a closed set, an organisation's
HER-id, a time or an id the hub or sender chose. There is no free-text column
(a rejection keeps its AppRec code, not a reason text), so nothing here can
hold patient data. Changing a table means adding a migration in :mod:`hubstats.migrations`; a
test compares the migrated database with these definitions.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

DIMENSIONS = (
    "family",
    "message_type",
    "sender_category",
    "receiver_category",
    "addressing_mode",
)
"""The dimensions of :data:`daily_counts` that an export may group by or filter on."""

ID_LENGTH = 128
"""Column length of MsgIds and principals; longer values are dropped, never cut."""

_CODE = 40  # family, category, mode, outcome and 8279 codes are short identifiers

daily_counts = sa.Table(
    "stats_daily_counts",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("family", sa.String(_CODE), primary_key=True),
    sa.Column("message_type", sa.String(_CODE), primary_key=True),
    sa.Column("sender_category", sa.String(_CODE), primary_key=True),
    sa.Column("receiver_category", sa.String(_CODE), primary_key=True),
    sa.Column("addressing_mode", sa.String(_CODE), primary_key=True),
    sa.Column("outcome", sa.String(_CODE), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)
"""Exact counts: day × family × message type × categories × addressing mode × outcome."""

sender_daily = sa.Table(
    "stats_sender_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("sender_her_id", sa.BigInteger, primary_key=True),
    sa.Column("family", sa.String(_CODE), primary_key=True),
    sa.Column("message_type", sa.String(_CODE), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)
"""Messages routed per sending organisation (level-1 HER-id) × day × type: distinct senders."""

processed_events = sa.Table(
    "stats_processed_events",
    metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
"""Event ids already applied: a replayed or re-delivered event is skipped."""

message_status = sa.Table(
    "message_status",
    metadata,
    sa.Column("hub_message_id", sa.Uuid, primary_key=True),
    sa.Column("msg_id", sa.String(ID_LENGTH), nullable=True, index=True),
    sa.Column("principal", sa.String(ID_LENGTH), nullable=True),
    sa.Column("sender_her_id", sa.BigInteger, nullable=True),
    sa.Column("family", sa.String(_CODE), nullable=True),
    sa.Column("message_type", sa.String(_CODE), nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("accepted", sa.Boolean, nullable=False, default=False),
    sa.Column("duplicate", sa.Boolean, nullable=False, default=False),
    sa.Column("rejected", sa.Boolean, nullable=False, default=False),
    sa.Column("reason_code", sa.String(_CODE), nullable=True),
    sa.Column("routed", sa.Integer, nullable=False, default=0),
    sa.Column("delivered", sa.Integer, nullable=False, default=0),
    sa.Column("delivery_failed", sa.Integer, nullable=False, default=0),
    sa.Column("delivery_retried", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
"""Transport state per message, kept as counters so events may arrive in any order."""

message_apprec = sa.Table(
    "message_apprec",
    metadata,
    sa.Column("original_msg_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("original_sender_her_id", sa.BigInteger, primary_key=True),
    # the receiver of the original message that answered (0 when the event lacks it)
    sa.Column("apprec_sender_her_id", sa.BigInteger, primary_key=True),
    sa.Column("apprec_status", sa.String(1), nullable=False),
    sa.Column("reason_code", sa.String(_CODE), nullable=True),
    sa.Column("round_trip_ms", sa.BigInteger, nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)
"""Each receiver's AppRec per original message (MsgId + sender), joined on read."""

message_receiver = sa.Table(
    "message_receiver",
    metadata,
    sa.Column("hub_message_id", sa.Uuid, primary_key=True),
    # the receiving organisation (level 1), as the events name it
    sa.Column("receiver_her_id", sa.BigInteger, primary_key=True),
    sa.Column("is_copy", sa.Boolean, nullable=False, default=False),
    sa.Column("routed", sa.Boolean, nullable=False, default=False),
    sa.Column("delivered", sa.Boolean, nullable=False, default=False),
    sa.Column("failed", sa.Boolean, nullable=False, default=False),
    sa.Column("rejected", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
"""Transport state per message and receiving organisation (MSH API ``/status``): flags that
only ever turn on, so events may arrive in any order and twice."""

message_event = sa.Table(
    "message_event",
    metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("hub_message_id", sa.Uuid, nullable=False, index=True),
    # an event type (schemas.vocabulary.EventType) or "replayed"
    sa.Column("stage", sa.String(_CODE), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("msg_id", sa.String(ID_LENGTH), nullable=True, index=True),
    sa.Column("family", sa.String(_CODE), nullable=True),
    sa.Column("message_type", sa.String(_CODE), nullable=True),
    sa.Column("sender_her_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("receiver_her_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("is_copy", sa.Boolean, nullable=False, default=False),
    sa.Column("reason_code", sa.String(_CODE), nullable=True),
    # the ingress adapter (http, amqp, kafka, file, hub) and the endpoint kind: closed sets
    sa.Column("adapter", sa.String(_CODE), nullable=True),
    sa.Column("principal", sa.String(ID_LENGTH), nullable=True),
    sa.Column("endpoint_kind", sa.String(_CODE), nullable=True),
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("apprec_status", sa.String(1), nullable=True),
    sa.Column("original_msg_id", sa.String(ID_LENGTH), nullable=True, index=True),
    # a replay: the hub message id it was written back under
    sa.Column("related_hub_message_id", sa.Uuid, nullable=True),
)
"""Every event of every message, one row each (the operator console's timeline): ids,
closed-set codes and times; no reason text (the dead letter on ``hub.rejected`` has it)."""

dpop_proofs = sa.Table(
    "dpop_proofs",
    metadata,
    sa.Column("digest", sa.LargeBinary(16), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
"""DPoP proofs seen within the replay window, by a digest of key thumbprint and ``jti``
(no client text): shared by every API replica, so a proof is taken once across them."""

delivery_breakers = sa.Table(
    "delivery_breakers",
    metadata,
    sa.Column("worker", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("endpoint_kind", sa.String(_CODE), primary_key=True),
    sa.Column("endpoint_digest", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(_CODE), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
"""Each delivery worker's circuit breakers that are not closed, by endpoint kind and a digest
of the address (a webhook URL may carry a secret, so the address itself is not stored),
replaced every few seconds: the console's view of them."""
