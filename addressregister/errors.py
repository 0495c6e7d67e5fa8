"""Errors of the address register; messages name the field, row or HER-id, never patient data."""

from collections.abc import Iterable
from dataclasses import dataclass

from hubcore.errors import MeldingshubError


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with one field of a party."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class RowError:
    """One thing wrong with one row of a register file (``row`` counts from 1)."""

    row: int
    field: str
    message: str
    her_id: int | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (HER-id {self.her_id})" if self.her_id is not None else "")
        return f"{where}, {self.field}: {self.message}"


class RegisterError(MeldingshubError):
    """Base of the address register's errors."""


class PartyValidationError(RegisterError, ValueError):
    """A party is not valid; ``errors`` lists every field that is wrong."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("invalid party: " + "; ".join(str(e) for e in self.errors))


class RegisterFileError(RegisterError):
    """A register file cannot be used; ``errors`` lists every wrong row and field."""

    def __init__(self, path: str, errors: Iterable[RowError]) -> None:
        self.path = path
        self.errors = tuple(errors)
        shown = "\n".join(f"  {e}" for e in self.errors[:200])
        more = len(self.errors) - 200
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{path}: {len(self.errors)} error(s), nothing imported; fix the rows and retry:\n"
            f"{shown}{tail}"
        )


class RegisterUnavailableError(RegisterError):
    """The register could not be loaded (topic unreachable or not read within the timeout)."""
