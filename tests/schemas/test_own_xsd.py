"""Our AppRec schemas accept the receipts the hub will build and refuse broken ones."""

import pytest
from lxml import builder, etree  # type: ignore[attr-defined]  # stubs lack builder

from schemas.catalogue import default_catalogue
from schemas.catalogue_data import APPREC_10, APPREC_11
from schemas.official import BuiltinLibrary
from schemas.validation import SchemaValidator

VALIDATOR = SchemaValidator(BuiltinLibrary(default_catalogue()))


def apprec(namespace: str, mig: str, status: str = "2", original: bool = True) -> etree._Element:
    """A negative AppRec as the hub builds it: hub as sender, the original sender as receiver."""
    E = builder.ElementMaker(namespace=namespace, nsmap={None: namespace})  # noqa: N806
    parts = [
        E.MsgType(V="APPREC", DN="Applikasjonskvittering"),
        E.MIGversion(mig),
        E.GenDate("2025-01-01T12:00:00"),
        E.Id("0b9b1f8e-3c2d-4a51-9d7e-2f1c9a0b7e11"),
        E.Sender(E.HCP(E.Inst(E.Name("Meldingshub"), E.Id("900001"), E.TypeId(V="HER")))),
        E.Receiver(
            E.HCP(
                E.Inst(
                    E.Name("Avsender"),
                    E.Id("56704"),
                    E.TypeId(V="HER"),
                    E.HCPerson(E.Name("Lege"), E.Id("258521"), E.TypeId(V="HER")),
                )
            )
        ),
        E.Status(V=status, DN="Avvist"),
        E.Error(V="T02", DN="Meldingen validerer ikke", S="2.16.578.1.12.4.1.1.8221"),
    ]
    if original:
        parts.append(
            E.OriginalMsgId(
                E.MsgType(V="DIALOG_HELSEFAGLIG"),
                E.IssueDate("2025-01-01T11:59:00"),
                E.Id("de1a95c0-4d0c-11e7-9598-0800200c9a66"),
            )
        )
    document: etree._Element = E.AppRec(*parts)
    return document


@pytest.mark.parametrize(
    ("namespace", "mig"), [(APPREC_10, "1.0 2004-11-21"), (APPREC_11, "v1.1 2012-02-15")]
)
def test_hub_built_apprec_validates(namespace: str, mig: str) -> None:
    assert VALIDATOR.validate(apprec(namespace, mig), (namespace,)) is None


@pytest.mark.parametrize("namespace", [APPREC_10, APPREC_11])
def test_apprec_without_original_msg_id_is_invalid(namespace: str) -> None:
    failure = VALIDATOR.validate(apprec(namespace, "x", original=False), (namespace,))
    assert failure is not None
    assert "OriginalMsgId" in failure.reason


def test_apprec_error_code_system_must_be_an_oid() -> None:
    document = apprec(APPREC_11, "v1.1 2012-02-15")
    document.find(f"{{{APPREC_11}}}Error").set("S", "kodeverk-8221")  # type: ignore[union-attr]
    assert VALIDATOR.validate(document, (APPREC_11,)) is not None


def test_every_builtin_combination_compiles() -> None:
    for entry in default_catalogue().entries:
        if entry.builtin_xsd is None:
            continue
        namespace = entry.namespace + ("2013-10-08" if entry.dated_series else "")
        combination = (
            ("http://www.kith.no/xmlstds/msghead/2006-05-24", namespace)
            if entry.container == "msghead"
            else (namespace,)
        )
        outcome = VALIDATOR.compile(combination)
        assert isinstance(outcome, etree.XMLSchema), (entry.standard, outcome)
