"""Values and schema helpers the Avro codec tests share."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from schemas.avro_codec import AVRO_DIR


def delivery_value(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "hub_message_id": UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
        "msg_id": "MSG-1",
        "receiver_her_id": 8094,
        "endpoint_kind": "amqp",
        "outcome": "retried",
        "attempt": 2,
        "reason": "timeout",
        "occurred_at": datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "next_attempt_at": None,
    }
    value.update(changes)
    return value


def avsc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((AVRO_DIR / f"{name}.avsc").read_text())
    return loaded


def with_added_field(schema: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    newer: dict[str, Any] = json.loads(json.dumps(schema))
    newer["fields"].append(field)
    return newer


GOLDEN_DELIVERY_STATUS = bytes.fromhex(
    "c301c5212e5745db76c8"  # magic, fingerprint (little-endian)
    "48"
    + b"0f8fad5b-d9cb-469f-a165-70867728950e".hex()  # hub_message_id
    + "020a"
    + b"MSG-1".hex()  # msg_id: union branch 1, string
    + "bc7e"  # receiver_her_id 8094
    + "08"
    + b"amqp".hex()  # endpoint_kind
    + "04"  # outcome: symbol 2 (retried)
    + "04"  # attempt 2
    + "020e"
    + b"timeout".hex()  # reason: union branch 1, string
    + "f6c9959ebf63"  # occurred_at 2024-03-01T12:00:00.123Z in milliseconds
    + "00"  # next_attempt_at: null
)
