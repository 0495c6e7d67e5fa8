"""``make run`` (the embedded hub) provisions an operator whose token opens the console."""

from pathlib import Path

from access.principals import Principals, Role, read_principals
from access.principals_file import write_atomically
from meldingshub.wiring import EMBEDDED_OPERATOR, _with_operator


def test_the_embedded_operator_token_is_an_operators(tmp_path: Path) -> None:
    tokens: dict[str, str] = {}
    principals = _with_operator(Principals(), tokens, 8888801)
    path = tmp_path / "principals.toml"
    write_atomically(path, principals.to_toml())

    operator = read_principals(path).authenticate(tokens[EMBEDDED_OPERATOR])

    assert operator is not None and operator.name == EMBEDDED_OPERATOR
    assert operator.has(Role.OPERATOR) and not operator.has(Role.SENDER)
