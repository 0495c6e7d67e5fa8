"""``describe`` tells where an unexpected error came from, never what its message said."""

from hubcore.errors import MeldingshubError, describe
from schemas import identifiers


def _raise_with_patient_text() -> None:
    int("12345678901 Kari Nordmann")  # int() quotes the value it could not read


def test_describe_names_the_type_and_place_but_not_the_message() -> None:
    try:
        _raise_with_patient_text()
    except ValueError as exc:
        told = describe(exc)
    assert told.startswith("ValueError at ")
    assert told.rsplit(":", 1)[1].isdigit()
    assert "Kari" not in told and "12345678901" not in told


def test_a_place_inside_the_hub_is_told_from_its_package_root() -> None:
    try:
        identifiers._validate("12345678901")  # raises inside schemas/identifiers.py
    except ValueError as exc:
        told = describe(exc)
    path = told.removeprefix("ValueError at ").rsplit(":", 1)[0]
    assert path == "schemas/identifiers.py"


def test_an_exception_never_raised_is_told_by_its_type_alone() -> None:
    assert describe(MeldingshubError("fnr 12345678901")) == "MeldingshubError"
