"""Which statistics category a party belongs to, decided from a data table and nowhere else.

The table ships as ``addressregister/data/categories.json``; configuration can
replace it (``categories_file``) or add rules that take precedence
(``category_rules``). Precedence, most specific first: HER-id, organisation
number, business type with service code, business type. A party that no rule
matches takes its parent's category (a GP takes the practice's, a NAV office
takes NAV's); the index applies that inheritance.
"""

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from addressregister.errors import RegisterError
from addressregister.model import CommunicationParty
from schemas.vocabulary import Category


class CategoryRule(BaseModel):
    """One row of the category table: a key (at least one field) and the category it gives."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    category: Category
    her_id: int | None = Field(default=None, ge=1)
    organisation_number: str | None = Field(default=None, pattern=r"^\d{9}$")
    business_type: str | None = Field(default=None, pattern=r"^\d{3}$")
    service_code: str | None = None
    service_code_list: str | None = None

    @model_validator(mode="after")
    def _has_key(self) -> "CategoryRule":
        if self.her_id is None and self.organisation_number is None and self.business_type is None:
            raise ValueError("a rule needs herId, organisationNumber or businessType")
        if self.service_code is not None and self.business_type is None:
            raise ValueError("a serviceCode rule also needs its businessType")
        return self


class CategoryTableError(RegisterError):
    """The category table cannot be read."""


class CategoryTable:
    """Rules indexed for O(1) matching; build once per register snapshot."""

    def __init__(self, rules: Iterable[CategoryRule]) -> None:
        self.rules = tuple(rules)
        self._by_her_id: dict[int, Category] = {}
        self._by_org: dict[str, Category] = {}
        self._by_service: dict[tuple[str, str | None, str], Category] = {}
        self._by_business: dict[str, Category] = {}
        # Earlier rules win, so configured rules placed first override the table.
        for rule in reversed(self.rules):
            if rule.her_id is not None:
                self._by_her_id[rule.her_id] = rule.category
            elif rule.organisation_number is not None:
                self._by_org[rule.organisation_number] = rule.category
            elif rule.business_type is not None and rule.service_code is not None:
                key = (rule.business_type, rule.service_code_list, rule.service_code)
                self._by_service[key] = rule.category
            elif rule.business_type is not None:
                self._by_business[rule.business_type] = rule.category

    @classmethod
    def default(cls) -> "CategoryTable":
        """The table shipped with the hub."""
        text = resources.files("addressregister").joinpath("data/categories.json").read_text()
        return cls(_parse(json.loads(text), "addressregister/data/categories.json"))

    @classmethod
    def from_file(cls, path: Path) -> "CategoryTable":
        """A table in the shipped format (``{"rules": [...]}``)."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CategoryTableError(f"cannot read category table {path}: {exc}") from None
        return cls(_parse(document, str(path)))

    @classmethod
    def configured(
        cls, extra_rules: Iterable[CategoryRule] = (), file: Path | None = None
    ) -> "CategoryTable":
        """The table from configuration: ``file`` replaces the shipped one, ``extra_rules`` win."""
        base = cls.from_file(file) if file is not None else cls.default()
        return cls([*extra_rules, *base.rules])

    def own_category(self, party: CommunicationParty) -> Category | None:
        """The category the party's own fields give, or None to inherit the parent's."""
        found = self._by_her_id.get(party.her_id)
        if found is not None:
            return found
        if party.organisation_number is not None:
            found = self._by_org.get(party.organisation_number)
            if found is not None:
                return found
        business = party.business_type
        if business is None:
            return None
        if party.service_code is not None:
            key = (business, party.service_code_list, party.service_code)
            found = self._by_service.get(key) or self._by_service.get((business, None, key[2]))
            if found is not None:
                return found
        return self._by_business.get(business)


def _parse(document: Any, where: str) -> list[CategoryRule]:
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list):
        raise CategoryTableError(f"{where}: expected an object with a 'rules' list")
    parsed: list[CategoryRule] = []
    problems: list[str] = []
    for number, rule in enumerate(rules, start=1):
        try:
            parsed.append(CategoryRule.model_validate(rule))
        except ValidationError as exc:
            problems.append(f"rule {number}: {exc.errors()[0]['msg']}")
    if problems:
        raise CategoryTableError(f"{where}: " + "; ".join(problems))
    return parsed
