"""``meldingshub inspect``: text or JSON, exit code from the verdicts, never patient data."""

import json

from click.testing import CliRunner

from meldingshub.cli import main
from tests.schemas.test_reader import DIALOG, FNR, sample
from tests.support.shared import CORPUS, OFFICIAL_XSD

GOOD = str(CORPUS / DIALOG)
BAD = str(CORPUS / "apprec" / "unknown-status.xml")


def test_accepted_file_exits_zero_and_shows_parties() -> None:
    sample(DIALOG)  # skips when the corpus is absent
    result = CliRunner().invoke(main, ["inspect", GOOD])
    assert result.exit_code == 0, result.output
    assert "DIALOG_STATUS_HENVISNING" in result.output
    assert "organisation HER 59, service HER 90998" in result.output
    assert "verdict     accepted" in result.output
    assert FNR not in result.output
    assert "Danser" not in result.output


def test_any_rejection_makes_the_exit_code_non_zero_and_json_is_one_object_per_file() -> None:
    sample(DIALOG)
    result = CliRunner().invoke(main, ["inspect", "--json", GOOD, BAD])
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [record["accepted"] for record in records] == [True, False]
    assert records[1]["code"] == "T02"
    assert records[0]["sender"]["organisation_her_id"] == 59
    assert FNR not in result.output


def test_official_schemas_option(tmp_path: object) -> None:
    sample(DIALOG)
    result = CliRunner().invoke(main, ["inspect", "--json", "--schemas", str(OFFICIAL_XSD), GOOD])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["standard"] == "Dialogmelding"
