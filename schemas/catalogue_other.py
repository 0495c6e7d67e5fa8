"""Catalogue rows beyond the medical families' current versions: the national bodies'
messages, older basis versions and the other standards of the directorate's schema folder.

Facts from the published schemas (namespaces, root elements) and the directorate's list
of messages in use (``MeldingsVersjoner.xml``). Each row says whose traffic it is
(``receiver_category``), so a message to or from a national body is counted under that
body. ``*`` as the type code: the standard has no kodeverk 8279 code the hub knows, so the
namespace alone identifies it. None has a built-in schema except the older basis
versions (our chameleon basis frame); the rest are validated against the official folder
when one is configured, else by their MsgHead alone.
"""

from schemas.catalogue_entry import CatalogueEntry, PartyLayout
from schemas.vocabulary import Category, Family

KITH = "http://www.kith.no/xmlstds"
EHELSE = "http://ehelse.no/xmlstds"
NPR_HOST = "http://www.npr.no/xmlstds"

IN_MSGHEAD = PartyLayout("organisation", "MsgInfo", "Sender", "Receiver", "OtherReceiver")
SERV_REQ = PartyLayout("hcp", "ServReq", "Requester", "ServProvider", "CopyDest")
SERV_RPRT = PartyLayout("hcp", "ServRprt", "ServProvider", "Requester", "CopyDest")
SERV_REPORT = PartyLayout("hcp", "ServReport", "ServProvider", "Requester", "CopyDest")
ANY = ("*",)
# The hub's names for messages whose standard has no 8279 code, listed before "*" so that a
# sender (and the simulator) can name them; any other code is taken by the namespace too.
SYSVAK = ("SYSVAK", "*")
KREFTMELDING = ("KREFTMELDING", "*")
NPR_MELDING = ("NPR_MELDING", "*")


def _other(
    standard: str,
    version: str,
    namespace: str,
    types: tuple[str, ...],
    roots: tuple[str, ...],
    receiver: Category | None,
) -> CatalogueEntry:
    """A MsgHead message of family ``other``, answered by AppRec 1.0 (as NAV's are)."""
    return CatalogueEntry(
        Family.OTHER, standard, version, namespace, types, "msghead", IN_MSGHEAD, "1.0",
        roots, None, receiver_category=receiver,
    )  # fmt: skip


NAV, HELFO, FHI = Category.NAV, Category.HELFO, Category.FHI
KREFT, NPR, ANNET = Category.KREFTREGISTERET, Category.NPR, Category.ANNET

_NATIONAL = (
    # NAV (MeldingsVersjoner: NAVmeldinger); the newer sykmelding first, as senders use it
    _other("Legeerklæring", "1.0", f"{KITH}/legeerklaring/2008-06-06", ("LEGEERKL",),
           ("Legeerklaring",), NAV),
    _other("Sykmelding (helseopplysninger til NAV)", "1.3",
           f"{KITH}/helseopplysningerNAV/2013-10-01", ("SYKMELD",),
           ("HelseOpplysningerArbeidsuforhet",), NAV),
    _other("Sykmelding", "1.1", f"{KITH}/sykmelding/2011-03-04", ("SYKMELD",), (), NAV),
    _other("InnrapporteringTrekk", "1.0", f"{KITH}/nav/innrapporteringtrekk/2010-02-04", ANY,
           ("InnrapporteringTrekk",), NAV),
    # HELFO: doctors' and therapists' claims for direct settlement, and HELFO's look-ups
    _other("Behandlerkrav", "1.8.3", f"{KITH}/bkm/2006-12-20", ("BEHANDLERKRAV", "*"),
           ("BehandlerKrav",), HELFO),
    _other("Legeoppgjørsmelding", "0.91", f"{KITH}/lom/2003-12-01", ("LOM", "*"),
           ("Legeregning",), HELFO),
    _other("Egenandel", "2016-06-10", f"{KITH}/nav/egenandel/2016-06-10", ANY,
           ("EgenandelForesporselV2", "EgenandelSvarV2"), HELFO),
    _other("EgenandelMengde", "2016-06-10", f"{KITH}/nav/egenandelmengde/2016-06-10", ANY,
           ("EgenandelMengdeForesporselV2", "EgenandelMengdeSvarV2"), HELFO),
    _other("Pasientens fastlege", "2010-02-01", f"{KITH}/nav/fastlege/2010-02-01", ANY,
           ("FastlegeForesporsel", "FastlegeSvar"), HELFO),
    _other("Pasientliste", "2010-02-01", f"{KITH}/nav/pasientliste/2010-02-01", ANY,
           ("PasientlisteForesporsel", "Pasientliste", "PasientlisteAbonnementStatus"), HELFO),
    # uncertain: the self-declaration accompanies a claim (its schema has Krav), counted HELFO
    _other("Egenerklæring", "2010-08-20", f"{KITH}/egenerklaering/2010-08-20", ANY,
           ("Egenerklaering",), HELFO),
    _other("Egenerklæring", "2012-05-12", f"{KITH}/egenerklæring/2012-05-12", ANY, (), HELFO),
    # FHI: SYSVAK (the vaccination register), requests and FHI's responses
    *(
        _other(f"SYSVAK {name}", "1.0", f"{KITH}/sysvak/{name.lower()}/2008-01-01", SYSVAK,
               (name,), FHI)
        for name in ("HendelseRequest", "HendelseResponse", "KodeverkRequest",
                     "KodeverkResponse", "SokRequest", "SokResponse")
    ),
    # Kreftregisteret
    *(
        _other(f"Kreftmelding {name}", "1.0", f"{KITH}/{folder}", KREFTMELDING, ("Melding",),
               KREFT)
        for name, folder in (("solide svulster", "solide"), ("brystkreft", "brystkreft"),
                             ("ikke-solide svulster", "nonsolide"))
    ),
    # NPR (Norsk pasientregister)
    _other("NPR-melding", "53.1.2", f"{NPR_HOST}/53_1_2", NPR_MELDING, ("Melding",), NPR),
    _other("NPR-melding (ide)", "53.1.2", f"{NPR_HOST}/53_1_2_ide", NPR_MELDING, ("Melding",), NPR),
    _other("IPLOS", "2018", f"{NPR_HOST}/iplos/2018", NPR_MELDING, ("IPLOS",), NPR),
    _other("NPR behandlerkravmelding", "0.78", NPR_HOST, NPR_MELDING, ("Melding",), NPR),
    # Arbeidstilsynet: not one of the monitor's national bodies
    _other("Melding om arbeidsrelatert sykdom eller skade", "2008-09-29",
           f"{KITH}/dat/moas/2008-09-29", ANY, ("Moas",), ANNET),
    # Kjernejournal (Norsk helsenett) administration
    _other("Kjernejournal administrasjon", "2007-06-07", f"{KITH}/kjernejournaladm/2007-06-07",
           ANY, (), ANNET),
)  # fmt: skip

_BETWEEN_SERVICES = (
    # PLO list of MeldingsVersjoner; an extract of a record from one service to another
    _other("EPJEkstrakt", "1.4", f"{KITH}/epj/EPJEkstrakt/2008-02-20", ANY, ("Node",), None),
    # Helsenorge: messages between the citizen's portal and the services' systems
    _other("MeldingInnbygger", "1.0", f"{EHELSE}/MeldingInnbygger/2018-09-25", ANY,
           ("MeldingInnbygger",), None),
    _other("Videreformidling", "1.0", f"{EHELSE}/Videreformidling/2018-09-25", ANY,
           ("Videreformidling",), None),
    _other("Leveringsrapport", "1.0", f"{EHELSE}/leveringsrapport/2018-08-14", ANY,
           ("Leveringsrapport",), None),
    # Older patient communication (to and from the patient, through a portal)
    _other("Melding fra pasient", "1.0", f"{KITH}/FraPasient/2005-07-11", ANY,
           ("MeldingFraPasient",), None),
    _other("Melding fra pasient", "1.1", f"{KITH}/FraPasient/2006-10-31", ANY,
           ("MeldingFraPasient",), None),
    _other("Melding til pasient", "1.0", f"{KITH}/TilPasient/2005-07-11", ANY,
           ("MeldingTilPasient",), None),
    _other("Melding til pasient", "1.1", f"{KITH}/TilPasient/2006-10-31", ANY,
           ("MeldingTilPasient",), None),
    *(
        _other(f"Pasientkommunikasjon {name}", "1.2", f"{KITH}/paskomm/{name}/2007-12-17", ANY,
               (root,), None)
        for name, root in (
            ("Attestbestilling", "AttestbestillingTop"),
            ("FornyelseResept", "FornyelseAvReseptTop"),
            ("FornyetResept", "FornyetReseptTop"),
            ("InnkallingKonsultasjon", "InnkallingKonsultasjonTop"),
            ("KanselleringKonsultasjon", "KanselleringKonsultasjonTop"),
            ("SvarAttestbestilling", "SvarAttestbestillingTop"),
            ("Timebestilling", "TimebestillingTop"),
        )
    ),
)  # fmt: skip


def _old_basis(
    standard: str, version: str, namespace: str, types: tuple[str, ...], parties: PartyLayout
) -> CatalogueEntry:
    """An older basis version (own ``Message`` root), answered by AppRec 1.0."""
    return CatalogueEntry(
        Family.BASIS, standard, version, namespace, types, "message", parties, "1.0",
        ("Message",), "basis-message.xsd",
    )  # fmt: skip


_OLDER_BASIS = (
    _old_basis("Epikrise", "1.0", f"{KITH}/epikrise", ("EPIKRISE", "FODSELS_EPIKRISE",
               "TILBAKEMELD", "E"), SERV_RPRT),
    _old_basis("Henvisning", "0.9", f"{KITH}/henvisning/2003-10-13", ("HENVISNING", "H"),
               SERV_REQ),
    _old_basis("Rekvisisjon", "1.4", f"{KITH}/rekvisisjon/2005-05-20", (
        "REQ_LAB", "REQ_RTG", "REQ_CYT", "REQ_HIST", "REQ_KKL", "REQ_MBIO", "R"), SERV_REQ),
    _old_basis("Svarrapport", "1.2", f"{KITH}/labsvar/2005-03-14", (
        "SVAR_LAB", "SVAR_RTG", "SVAR_CYT", "SVAR_HIST", "SVAR_KKL", "SVAR_MBIO", "S"),
        SERV_REPORT),
)  # fmt: skip

# e-resept MV (the prescription verification message) in both namespaces the list names:
# the second on the host ehelse.no without www.
_ERESEPT_MV = tuple(
    CatalogueEntry(
        Family.ERESEPT, "e-resept MV", "", f"{host}/eresept/mv/", ("ERMV", "*"), "msghead",
        IN_MSGHEAD, "1.0", ("Verify",), "eresept-payload.xsd", dated_series=True,
        receiver_category=Category.RESEPTFORMIDLEREN,
    )
    for host in (KITH, EHELSE)
)  # fmt: skip

ENTRIES: tuple[CatalogueEntry, ...] = _NATIONAL + _BETWEEN_SERVICES + _OLDER_BASIS + _ERESEPT_MV
