"""What the envelope reader takes from MsgHead, basis and AppRec documents."""

from lxml import etree

from schemas.catalogue import default_catalogue
from schemas.envelope import read_envelope
from schemas.parties import PartyRef
from schemas.vocabulary import AppRecStatus, Family
from tests.schemas.test_reader import DIALOG, FNR, HENVISNING, sample


def envelope_of(raw: bytes):  # type: ignore[no-untyped-def]
    return read_envelope(etree.fromstring(raw), default_catalogue()).envelope


def test_msghead_envelope_has_ids_refs_and_parties_at_their_levels() -> None:
    envelope = envelope_of(sample(DIALOG))
    assert envelope.family is Family.DIALOG
    assert (envelope.standard, envelope.version) == ("Dialogmelding", "1.1")
    assert envelope.message_type == "DIALOG_STATUS_HENVISNING"
    assert envelope.gen_date == "2018-01-19T09:40:47"
    assert envelope.conversation_parent == "810200d0-2d17-11e8-b566-0800200c9a66"
    assert envelope.conversation_ref == "87ef6130-2d17-11e8-b566-0800200c9a66"
    assert envelope.sender == PartyRef(organisation_her_id=59, service_her_id=90998)
    assert envelope.receiver == PartyRef(organisation_her_id=62, service_her_id=8605)
    assert envelope.copy_receivers == (PartyRef(organisation_her_id=56704, person_her_id=258521),)
    assert envelope.is_msghead
    assert envelope.ack_requested is False
    assert envelope.attachment_count == 0


def test_ack_enh_and_attachment_sizes() -> None:
    name = b"<OrganisationName>Sykehuset Levanger HF</OrganisationName>"
    enh = b'<Ident><Id>983974732</Id><TypeId V="ENH"/></Ident>'
    raw = sample(DIALOG).replace(b"<ConversationRef>", b'<Ack V="J"/><ConversationRef>', 1)
    raw = raw.replace(name, name + enh, 1)
    attachment = (
        b'<Document><RefDoc><MsgType V="A"/><Content>'
        b'<Base64Container xmlns="http://www.kith.no/xmlstds/base64container">aGVsbG8gd29ybGQ=\n'
        b"</Base64Container></Content></RefDoc></Document></MsgHead>"
    )
    raw = raw.replace(b"</MsgHead>", attachment)
    envelope = envelope_of(raw)
    assert envelope.ack_requested is True
    assert envelope.receiver.organisation_number == "983974732"
    assert envelope.receiver.organisation_her_id == 62
    assert envelope.attachment_count == 1
    assert envelope.attachment_sizes == (len(b"hello world"),)


def test_basis_message_parties_follow_the_requisition_layout() -> None:
    envelope = envelope_of(sample(HENVISNING))
    assert envelope.family is Family.BASIS
    assert not envelope.is_msghead
    assert envelope.gen_date == "2017-05-05T06:24:09"  # from GenDate/@V
    assert envelope.sender == PartyRef(organisation_her_id=56704, person_her_id=258521)
    assert envelope.receiver == PartyRef(organisation_her_id=59, service_her_id=90998)
    epikrise = envelope_of(sample("basis/epikrise_v1.2_n.xml"))
    assert epikrise.sender.service_her_id == 94866  # ServProvider sends an epikrise
    assert epikrise.receiver.person_her_id == 91439
    assert [party.service_her_id for party in epikrise.copy_receivers] == [95136]


def test_apprec_fields_and_enh_with_her_in_additional_id() -> None:
    raw = sample("apprec/example-avvist.xml")
    envelope = envelope_of(raw)
    assert envelope.family is Family.APPREC
    assert envelope.apprec_status is AppRecStatus.REJECTED
    assert envelope.apprec_error_codes == ("E21",)
    assert envelope.original_msg_type == "EPIKRISE"
    assert envelope.apprec_version is None  # no AppRec answers an AppRec
    ns = b"http://www.kith.no/xmlstds/apprec/2004-11-21"
    enh_first = (
        b'<AppRec xmlns="' + ns + b'"><MsgType V="APPREC"/><MIGversion>1.0 2004-11-21</MIGversion>'
        b"<GenDate>2024-01-01T00:00:00</GenDate><Id>a</Id>"
        b'<Sender><HCP><Inst><Name>NAV</Name><Id>889640782</Id><TypeId V="ENH"/>'
        b'<AdditionalId><Id>79768</Id><Type V="HER"/></AdditionalId></Inst></HCP></Sender>'
        b'<Receiver><HCP><HCProf><Id>4711</Id><TypeId V="HER"/></HCProf></HCP></Receiver>'
        b'<Status V="1"/><OriginalMsgId><MsgType V="LEGEERKL"/>'
        b"<IssueDate>2024-01-01T00:00:00</IssueDate><Id>b</Id></OriginalMsgId></AppRec>"
    )
    envelope = envelope_of(enh_first)
    assert envelope.sender == PartyRef(organisation_her_id=79768, organisation_number="889640782")
    assert envelope.receiver == PartyRef(person_her_id=4711)


def test_repr_holds_no_patient_data() -> None:
    for name in (DIALOG, HENVISNING):
        text = repr(envelope_of(sample(name)))
        assert FNR not in text
        assert "Danser" not in text
        assert "Line" not in text
