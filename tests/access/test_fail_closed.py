"""The hub never runs open by accident: a missing, empty or broken principals file stops it."""

import os
import subprocess
from pathlib import Path

import pytest

from meldingshub.embedded_broker import free_port
from tests.support.hub_process import MELDINGSHUB

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("principals", "extra", "complaint"),
    [
        (None, {}, "no principals file: set MELDINGSHUB_ACCESS__PRINCIPALS_FILE"),
        ("", {}, "names no [[principal]]"),
        ("[[principal]]\nname = 'a'\nher_ids = ['1']\n", {}, "needs her_ids"),
        (None, {"MELDINGSHUB_ACCESS__OPEN_MODE": "true"}, "only allowed with the embedded broker"),
    ],
    ids=["missing", "empty", "malformed", "open-with-external-broker"],
)
def test_the_router_refuses_to_start_without_good_principals(
    kafka_bootstrap: str,
    tmp_path: Path,
    principals: str | None,
    extra: dict[str, str],
    complaint: str,
) -> None:
    env = {
        **os.environ,
        "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "MELDINGSHUB_DATA_DIR": str(tmp_path),
        "MELDINGSHUB_HTTP__OPS_BIND": f"127.0.0.1:{free_port()}",
        **extra,
    }
    env.pop("MELDINGSHUB_ACCESS__PRINCIPALS_FILE", None)
    if principals is not None:
        path = tmp_path / "principals.toml"
        path.write_text(principals, encoding="utf-8")
        env["MELDINGSHUB_ACCESS__PRINCIPALS_FILE"] = str(path)
    result = subprocess.run(
        [MELDINGSHUB, "run", "router"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = [line for line in result.stderr.splitlines() if line.startswith("meldingshub: error")]
    assert len(last) == 1 and complaint in last[0], result.stderr
