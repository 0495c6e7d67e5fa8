"""The official schema folder loads as it is: catalog resolution, xmldsig DOCTYPE, drifted paths."""

from pathlib import Path

import pytest

from schemas.catalogue import default_catalogue
from schemas.catalogue_data import MSGHEAD_NAMESPACE
from schemas.errors import SchemaConfigError
from schemas.official import OfficialLibrary
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from schemas.validation import SchemaValidator
from tests.support.shared import OFFICIAL_XSD, corpus_manifest


@pytest.fixture(scope="module")
def library() -> OfficialLibrary:
    if not OFFICIAL_XSD.is_dir():
        pytest.skip(f"official schemas not found at {OFFICIAL_XSD}")
    return OfficialLibrary(OFFICIAL_XSD)


def test_every_namespace_the_corpus_uses_compiles(official_reader: MessageReader) -> None:
    namespaces = {
        (entry.get("payload_ns") or entry["root_ns"], entry["msghead"])
        for entry in corpus_manifest()
    }
    problems = official_reader.startup_problems()
    for namespace, _ in namespaces:
        assert not any(problem.startswith(namespace + ":") for problem in problems), namespace


def test_uncompilable_schemas_are_reported_by_name(official_reader: MessageReader) -> None:
    problems = official_reader.startup_problems()
    # These old e-resept versions import Forskrivning versions the folder does not contain.
    assert any(
        problem.startswith("http://www.kith.no/xmlstds/eresept/m1/2008-10-09:")
        for problem in problems
    )
    assert all("does not compile" in problem for problem in problems)


def test_msghead_with_xmldsig_compiles_without_entity_expansion(library: OfficialLibrary) -> None:
    validator = SchemaValidator(library)
    assert not isinstance(validator.compile((MSGHEAD_NAMESPACE,)), Exception)
    cleaned = library.load(library.locate("http://www.w3.org/2000/09/xmldsig#") or "")
    assert cleaned is not None
    assert b"<!DOCTYPE" not in cleaned
    assert b"<!ENTITY" not in cleaned


def test_imports_without_location_are_resolved_through_the_catalog(
    library: OfficialLibrary,
) -> None:
    # Henvisning 2.0 imports poKomponent "poKomponent-v2.0.xsd", which lives in plo/v2.0/.
    henvisning = library.locate("http://ehelse.no/xmlstds/henvisning/2017-11-30")
    assert henvisning is not None
    cleaned = library.load(henvisning)
    assert cleaned is not None
    assert (
        OFFICIAL_XSD / "plo" / "v2.0" / "poKomponent-v2.0.xsd"
    ).resolve().as_posix().encode() in cleaned


def test_catalog_entries_with_stale_paths_are_found_by_file_name(library: OfficialLibrary) -> None:
    # The catalogs say eresept/m1/2013-10-08/ER-M1-2013-10-08.xsd; the folder is flat.
    file = library.file_for("http://www.kith.no/xmlstds/eresept/m1/2013-10-08")
    assert file is not None
    assert file.name == "ER-M1-2013-10-08.xsd"


def test_catalogue_namespaces_known_to_the_folder(library: OfficialLibrary) -> None:
    known = library.namespaces()
    for entry in default_catalogue().entries:
        if entry.family.value in {"dialog", "apprec"}:
            assert entry.namespace in known, entry.namespace


def test_missing_folder_is_a_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaConfigError, match="does not exist"):
        MessageReader(SchemaSettings(official_dir=tmp_path / "nowhere"))
    with pytest.raises(SchemaConfigError, match="catalog"):
        OfficialLibrary(tmp_path)
