"""The catalogue covers every code and namespace of the domain facts, as data."""

import pytest

from schemas.catalogue import default_catalogue, lookup
from schemas.catalogue_data import ENTRIES, KITH
from schemas.vocabulary import Family

CATALOGUE = default_catalogue()

DOMAIN_NAMESPACES = {
    f"{KITH}/dialog/2006-10-11": ("dialog", "Dialogmelding", "1.0", "1.0"),
    f"{KITH}/dialog/2013-01-23": ("dialog", "Dialogmelding", "1.1", "1.1"),
    f"{KITH}/po/Pasientlogistikk/2009-06-30": ("plo", "PLO", "1.5", "1.0"),
    f"{KITH}/po/Innleggelsesrapport/2012-04-01": ("plo", "PLO", "1.6", "1.1"),
    "http://ehelse.no/xmlstds/po/Pasientlogistikk/2016-05-30": ("plo", "PLO", "2.0", "1.1"),
    f"{KITH}/epikrise/2006-09-23": ("basis", "Epikrise", "1.1", "1.0"),
    f"{KITH}/epikrise/2012-02-15": ("basis", "Epikrise", "1.2", "1.1"),
    f"{KITH}/henvisning/2005-07-08": ("basis", "Henvisning", "1.0", "1.0"),
    f"{KITH}/henvisning/2012-02-15": ("basis", "Henvisning", "1.1", "1.1"),
    "http://ehelse.no/xmlstds/henvisning/2017-11-30": ("basis", "Henvisning", "2.0", "1.1"),
    f"{KITH}/rekvisisjon/2008-12-01": ("basis", "Rekvisisjon", "1.5", "1.0"),
    f"{KITH}/rekvisisjon/2012-02-15": ("basis", "Rekvisisjon", "1.6", "1.1"),
    f"{KITH}/labsvar/2008-12-01": ("basis", "Svarrapport", "1.3", "1.0"),
    f"{KITH}/labsvar/2012-02-15": ("basis", "Svarrapport", "1.4", "1.1"),
    f"{KITH}/eresept/m1/2013-10-08": ("eresept", "e-resept M1", "2013-10-08", "1.0"),
    "http://www.ehelse.no/xmlstds/eresept/m911/2018-07-01": (
        "eresept", "e-resept M911", "2018-07-01", "1.0",
    ),
    f"{KITH}/apprec/2004-11-21": ("apprec", "AppRec", "1.0", None),
    f"{KITH}/apprec/2012-02-15": ("apprec", "AppRec", "1.1", None),
}  # fmt: skip

ERESEPT_CODES = [
    "ERM1",
    "ERM2",
    "ERM3",
    "ERM5",
    "ERM52",
    "ERM6",
    "ERM7",
    "ERM8",
    "ERM81",
    "ERM10",
    "ERM12",
    "ERM14",
    "ERM15",
    "ERM18",
    "ERM20",
    "ERM21",
    "ERM22",
    "ERM23",
    "ERM241",
    "ERM242",
    "ERM243",
    "ERM244",
    "ERM245",
    "ERM251",
    "ERM252",
    "ERM253",
    "ERM261",
    "ERM262",
    "ERM271",
    "ERM272",
    "ERM273",
    "ERM274",
    "ERM28",
    "ERM30",
    "ERM41",
    "ERM42",
    "ERM91",
    "ERM911",
    "ERM912",
    "ERM92",
    "ERM921",
    "ERM922",
    "ERM93",
    "ERM94",
    "ERM95",
    "ERM96",
    "ERM97",
    "ERM98",
]


@pytest.mark.parametrize("namespace", sorted(DOMAIN_NAMESPACES))
def test_domain_namespaces_classify_with_standard_version_and_apprec(namespace: str) -> None:
    family, standard, version, apprec = DOMAIN_NAMESPACES[namespace]
    found = CATALOGUE.by_namespace(namespace)
    assert found is not None
    entry, found_version = found
    assert (entry.family.value, entry.standard, found_version) == (family, standard, version)
    assert entry.apprec_version == apprec


def test_every_eresept_code_has_its_series() -> None:
    for code in ERESEPT_CODES:
        number = code.removeprefix("ERM")
        entry = lookup(code, f"{KITH}/eresept/m{number}/2013-10-08")
        assert entry is not None, code
        assert entry.family is Family.ERESEPT


def test_type_codes_including_short_codes_and_prefixes() -> None:
    assert lookup("H", f"{KITH}/henvisning/2005-07-08") is not None
    assert lookup("E", f"{KITH}/epikrise/2006-09-23") is not None
    assert lookup("R", f"{KITH}/rekvisisjon/2008-12-01") is not None
    assert lookup("S", f"{KITH}/labsvar/2008-12-01") is not None
    assert lookup("DIALOG_INNBYGGER_EKONTAKT", f"{KITH}/dialog/2013-01-23") is not None
    assert lookup("LOG_DOD", f"{KITH}/po/Pasientlogistikk/2012-04-01") is not None
    assert lookup("ERM1", f"{KITH}/dialog/2013-01-23") is None


def test_unknown_and_mismatched_classify_as_other_or_mismatch_with_a_reason() -> None:
    unknown = CATALOGUE.classify("SYKMELD", "http://www.nav.no/xmlstds/sykmelding/2030")
    assert unknown.family is Family.OTHER
    assert unknown.entry is None
    assert unknown.reason and "not in the catalogue" in unknown.reason
    assert "nav.no" not in unknown.reason
    mismatch = CATALOGUE.classify("ERM1", f"{KITH}/dialog/2013-01-23")
    assert mismatch.mismatch
    assert mismatch.reason and "Dialogmelding" in mismatch.reason
    assert "ERM1" not in mismatch.reason  # the sender's code is not from a closed set
    bad_date = CATALOGUE.classify("ERM1", f"{KITH}/eresept/m1/latest")
    assert bad_date.entry is None


def test_apprec_version_is_queryable_per_standard() -> None:
    assert CATALOGUE.apprec_version_for("Dialogmelding", "1.0") == "1.0"
    assert CATALOGUE.apprec_version_for("Dialogmelding", "1.1") == "1.1"
    assert CATALOGUE.apprec_version_for("Henvisning", "2.0") == "1.1"
    assert CATALOGUE.apprec_version_for("e-resept M1", "2013-10-08") == "1.0"
    assert CATALOGUE.apprec_version_for("AppRec", "1.0") is None


def test_every_builtin_schema_named_in_the_catalogue_exists() -> None:
    from schemas.official import BUILTIN_DIR

    for entry in ENTRIES:
        if entry.builtin_xsd is not None:
            assert (BUILTIN_DIR / entry.builtin_xsd).is_file(), entry.builtin_xsd
