"""AppRecs a receiver answers with (status 1, 2 or 3 and its errors), built by the hub for it.

NHN's message server API lets a receiver post only the status and the errors; the
server writes the AppRec document. This module writes it in the AppRec version
that answers the original (see the catalogue), valid against the official
schema, with the receiver as sender and the original's sender as receiver, so
it is routed back like any AppRec.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from lxml import etree

from routing.apprec import (
    APPREC_NAMESPACES,
    ERROR_CODE_SYSTEM,
    MAX_EXPLANATION,
    MIG_VERSIONS,
    AppRecVersion,
    issue_date,
    oslo_timestamp,
)
from schemas.vocabulary import AppRecErrorCode, AppRecStatus

_STATUS_TEXT = {
    AppRecStatus.OK: "OK",
    AppRecStatus.REJECTED: "Avvist",
    AppRecStatus.OK_ERROR_IN_MESSAGE_PART: "OK, feil i delmelding",
}


@dataclass(frozen=True, slots=True)
class Party:
    """A party of an AppRec: its organisation, and the service or person under it if any."""

    organisation_her_id: int
    organisation_name: str | None = None
    department_her_id: int | None = None
    department_name: str | None = None
    person_her_id: int | None = None
    person_name: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptError:
    """One error of the receipt: a code of kodeverk 8221 and optional details."""

    code: AppRecErrorCode
    details: str | None = None


@dataclass(frozen=True, slots=True)
class Original:
    """What the AppRec says of the message it answers."""

    message_type: str
    gen_date: str
    msg_id: str


def _add(
    parent: etree._Element, tag: str, text: str | None = None, **attributes: str
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{parent.nsmap[None]}}}{tag}", attributes)
    element.text = text
    return element


def _her(parent: etree._Element, name: str | None, her_id: int) -> None:
    if name:
        _add(parent, "Name", name)
    _add(parent, "Id", str(her_id))
    _add(parent, "TypeId", V="HER", DN="HER-id")


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    institution = _add(_add(_add(parent, tag), "HCP"), "Inst")
    _her(institution, party.organisation_name, party.organisation_her_id)
    if party.department_her_id is not None:
        _her(_add(institution, "Dept"), party.department_name, party.department_her_id)
    if party.person_her_id is not None:
        _her(_add(institution, "HCPerson"), party.person_name, party.person_her_id)


def receiver_apprec(
    *,
    version: AppRecVersion,
    apprec_id: UUID,
    generated_at: datetime,
    status: AppRecStatus,
    errors: tuple[ReceiptError, ...],
    sender: Party,
    receiver: Party,
    original: Original,
) -> bytes:
    """The receiver's AppRec as UTF-8 XML bytes (errors in the given order)."""
    namespace = APPREC_NAMESPACES[version]
    # lxml takes None as the default-namespace prefix; lxml-stubs types the keys as str only
    document = etree.Element(f"{{{namespace}}}AppRec", nsmap={None: namespace})  # type: ignore[dict-item]
    _add(document, "MsgType", V="APPREC", DN="Applikasjonskvittering")
    _add(document, "MIGversion", MIG_VERSIONS[version])
    _add(document, "GenDate", oslo_timestamp(generated_at))
    _add(document, "Id", str(apprec_id))
    _party(document, "Sender", sender)
    _party(document, "Receiver", receiver)
    _add(document, "Status", V=status.value, DN=_STATUS_TEXT[status])
    for error in errors:
        # DN: the code's Norwegian name, which EPJ systems show; OT: the receiver's own words.
        attributes = {
            "V": error.code.value,
            "S": ERROR_CODE_SYSTEM,
            "DN": error.code.norwegian_name,
        }
        if error.details:
            attributes["OT"] = error.details[:MAX_EXPLANATION]
        _add(document, "Error", **attributes)
    answered = _add(document, "OriginalMsgId")
    _add(answered, "MsgType", V=original.message_type, DN=original.message_type)
    _add(answered, "IssueDate", issue_date(original.gen_date, generated_at))
    _add(answered, "Id", original.msg_id)
    return bytes(etree.tostring(document, xml_declaration=True, encoding="UTF-8"))
