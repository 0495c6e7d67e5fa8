"""The catalogue knows every message the directorate lists and every message schema of its
folder, and says whose traffic each is; ``meldingshub inspect`` names their standards."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from meldingshub.cli import main
from schemas.catalogue import CatalogueEntry, default_catalogue
from schemas.catalogue_data import MSGHEAD_NAMESPACE
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode, Category, Family
from tests.support.shared import OFFICIAL_XSD

CATALOGUE = default_catalogue()
LIST = OFFICIAL_XSD / "MeldingsVersjoner.xml"

NOT_MESSAGES = {
    # shared components, code lists and envelopes: imported by messages, never sent alone
    "http://www.kith.no/xmlstds",
    "http://www.kith.no/xmlstds/felleskomponent1",
    "http://www.kith.no/xmlstds/base64container",
    MSGHEAD_NAMESPACE,
    "http://www.kith.no/xmlstds/sysvak",
    "http://www.kith.no/xmlstds/nav/egenandel/kodeverk/2016-06-10",
    "http://www.kith.no/xmlstds/epj/epj1/2008-02-20",
    "http://www.kith.no/xmlstds/epj/epj2/2008-02-20",
    "http://www.kith.no/xmlstds/epj/epj3/2008-02-20",
    "http://www.kith.no/xmlstds/epj/meta/2008-02-20",
    "http://www.kith.no/xmlstds/epj/EPJTilleggsinfo/2008-02-20",
    "http://www.kith.no/xmlstds/eresept/ki/2013-04-25",
    "http://www.kith.no/xmlstds/eresept/sko/2008-05-05",
    "http://www.kith.no/xmlstds/helsepersonell/2014-03-28",
    "http://www.kith.no/xmlstds/helsepersonell/2015-05-04",
    "http://www.kith.no/xmlstds/pasientrelasjon/2014-03-28",
    "http://www.kith.no/xmlstds/person/2014-03-28",
    "http://www.kith.no/xmlstds/paskomm/TjenesteKomponent/2007-12-17",
    "http://ehelse.no/xmlstds/PersonvernInnstilling/v1.0",
    "urn:ietf:params:xml:ns:icalendar-2.0",
    "urn:oasis:names:tc:entity:xmlns:xml:catalog",
    "http://www.w3.org/2001/XMLSchema",
    "http://www.w3.org/XML/1998/namespace",
    "http://www.w3.org/2000/09/xmldsig#",
    # registers and settings kept by Helsenorge and Norsk helsenett, not exchanged as messages
    # between communication parties
    "http://ehelse.no/xmlstds/tjenesteoversikt",
    "http://www.kith.no/xmlstds/reservasjon/2016-12",
    "http://ehelse.no/xmlstds/reservasjon/v2.0",
    "http://ehelse.no/xmlstds/samtykke/v1.0",
    "http://ehelse.no/xmlstds/tilgangsbegrensning/v1.0",
}
"""Namespaces of the folder that are not messages of their own, each for the reason given."""

COMPONENT_PREFIXES = (
    "http://www.kith.no/xmlstds/eresept/forskrivning/",
    "http://www.kith.no/xmlstds/eresept/utlevering/",
    "http://www.kith.no/xmlstds/po/poKomponent/",
    "http://ehelse.no/xmlstds/po/poKomponent/",
)
"""Component schemas of e-resept and PLO, by prefix (one per dated version)."""
_SCHEMA_TAG = re.compile(rb"<(?:\w+:)?schema\b[^>]*>")
_TARGET = re.compile(rb"""targetNamespace\s*=\s*["']([^"']+)["']""")


def target_namespace(path: Path) -> str:
    """The schema's targetNamespace, read from its root tag (comments may quote others)."""
    tag = _SCHEMA_TAG.search(path.read_bytes())
    found = _TARGET.search(tag.group(0)) if tag else None
    return found.group(1).decode("utf-8") if found else ""


def listed() -> list[tuple[str, str, str]]:
    """(category, name, namespace) of every message in ``MeldingsVersjoner.xml``."""
    if not LIST.is_file():
        pytest.skip(f"{LIST} not found")
    root = etree.parse(str(LIST)).getroot()
    return [
        (category.get("navn", ""), message.get("navn", ""), message.get("navnerom", ""))
        for category in root.iter("MeldingsKategori")
        for message in category.iter("Melding")
    ]


def test_every_listed_namespace_is_in_the_catalogue() -> None:
    messages = listed()
    assert len(messages) == 104
    unknown = [(name, ns) for _, name, ns in messages if CATALOGUE.by_namespace(ns) is None]
    assert unknown == []


def test_every_message_schema_of_the_folder_is_in_the_catalogue() -> None:
    if not OFFICIAL_XSD.is_dir():
        pytest.skip(f"{OFFICIAL_XSD} not found")
    unknown = set()
    for path in OFFICIAL_XSD.rglob("*.xsd"):
        namespace = target_namespace(path)
        if not namespace or namespace in NOT_MESSAGES or namespace.startswith(COMPONENT_PREFIXES):
            continue
        if CATALOGUE.by_namespace(namespace) is None:
            unknown.add(f"{path.relative_to(OFFICIAL_XSD)}: {namespace}")
    assert sorted(unknown) == []


@pytest.mark.parametrize(
    ("namespace", "family", "receiver"),
    [
        ("http://www.kith.no/xmlstds/sykmelding/2011-03-04", Family.OTHER, Category.NAV),
        ("http://www.kith.no/xmlstds/helseopplysningerNAV/2013-10-01", Family.OTHER, Category.NAV),
        ("http://www.kith.no/xmlstds/bkm/2006-12-20", Family.OTHER, Category.HELFO),
        ("http://www.kith.no/xmlstds/lom/2003-12-01", Family.OTHER, Category.HELFO),
        ("http://www.kith.no/xmlstds/nav/egenandel/2016-06-10", Family.OTHER, Category.HELFO),
        ("http://www.kith.no/xmlstds/legeerklaring/2008-06-06", Family.OTHER, Category.NAV),
        ("http://www.kith.no/xmlstds/sysvak/sokrequest/2008-01-01", Family.OTHER, Category.FHI),
        ("http://www.kith.no/xmlstds/solide", Family.OTHER, Category.KREFTREGISTERET),
        ("http://www.npr.no/xmlstds/53_1_2", Family.OTHER, Category.NPR),
        ("http://www.kith.no/xmlstds/epj/EPJEkstrakt/2008-02-20", Family.OTHER, None),
        ("http://ehelse.no/xmlstds/eresept/mv/2017-01-01", Family.ERESEPT,
         Category.RESEPTFORMIDLEREN),
        ("http://www.kith.no/xmlstds/eresept/m18/2013-04-16", Family.ERESEPT, Category.HELFO),
        ("http://www.kith.no/xmlstds/eresept/m9na1/2016-06-06", Family.ERESEPT,
         Category.RESEPTFORMIDLEREN),
        ("http://www.kith.no/xmlstds/epikrise", Family.BASIS, None),
        ("http://www.kith.no/xmlstds/henvisning/2003-10-13", Family.BASIS, None),
    ],
)  # fmt: skip
def test_family_and_whose_traffic(
    namespace: str, family: Family, receiver: Category | None
) -> None:
    found = CATALOGUE.by_namespace(namespace)
    assert found is not None
    entry = found[0]
    assert entry.family is family
    assert entry.receiver_category is receiver
    assert entry.apprec_version in {"1.0", "1.1"}
    assert entry.type_codes


def _document(entry: CatalogueEntry, namespace: str) -> bytes:
    """The smallest document of ``entry`` the envelope reader classifies."""
    code = next((c for c in entry.type_codes if not c.endswith("*")), "UKJENT_KODE")
    root_name = entry.payload_roots[0] if entry.payload_roots else "Melding"
    if entry.container == "apprec":
        return f'<AppRec xmlns="{namespace}"><MsgType V="APPREC"/></AppRec>'.encode()
    if entry.container == "message":
        return f'<Message xmlns="{namespace}"><Type V="{code}"/></Message>'.encode()
    return (
        f'<MsgHead xmlns="{MSGHEAD_NAMESPACE}"><MsgInfo><Type V="{code}"/></MsgInfo>'
        f'<Document><RefDoc><Content><{root_name} xmlns="{namespace}"/></Content></RefDoc>'
        "</Document></MsgHead>"
    ).encode()


def test_inspect_names_the_standard_of_every_listed_message(tmp_path: Path) -> None:
    files = []
    for index, (_, name, namespace) in enumerate(listed()):
        found = CATALOGUE.by_namespace(namespace)
        assert found is not None, name
        path = tmp_path / f"{index:03d}.xml"
        path.write_bytes(_document(found[0], namespace))
        files.append((path, found[0]))
    result = CliRunner().invoke(main, ["inspect", "--json", *(str(p) for p, _ in files)])
    records = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(records) == len(files)
    for record, (_, entry) in zip(records, files, strict=True):
        assert record["standard"] == entry.standard, record
        assert record["family"] == entry.family.value, record


@pytest.mark.parametrize(
    ("namespace", "root", "family"),
    [
        ("http://www.kith.no/xmlstds/eresept/m1/2013-10-08", "Resept", "eresept"),
        ("http://www.kith.no/xmlstds/legeerklaring/2008-06-06", "Legeerklaring", "other"),
        ("http://www.kith.no/xmlstds/dialog/2013-01-23", "Dialogmelding", "dialog"),
    ],
)
def test_a_bare_payload_of_a_known_standard_keeps_its_family_and_is_refused_t10(
    namespace: str, root: str, family: str
) -> None:
    reader = MessageReader(SchemaSettings())
    result = reader.read(f'<{root} xmlns="{namespace}"><Type V="X"/></{root}>'.encode())
    assert result.envelope is not None
    assert result.envelope.family.value == family
    assert result.envelope.standard
    assert result.problem is not None and result.problem.code is AppRecErrorCode.T10
    assert "not how" in result.problem.reason
