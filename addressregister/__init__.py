"""The grunndata-like address register: parties, categories, resolution, import/export and look-ups.

The category of a party is decided here and nowhere else. Others may import
(from the modules, so that importing the package stays cheap):

* :mod:`addressregister.model` - ``CommunicationParty``, ``PartyKind``, ``Endpoint``,
  ``EndpointKind``, ``MessageProfile`` (immutable, validated by
  :mod:`addressregister.validation` on creation)
* :mod:`addressregister.index` - ``RegisterIndex``: immutable snapshot, O(1) look-ups
* :mod:`addressregister.resolution` - ``resolve_receiver``, ``check_sender`` (pure) and
  :mod:`addressregister.results` - ``Resolution``, ``SenderCheck``, ``ResolutionFailure``,
  ``LookupProblem``
* :mod:`addressregister.categories` - ``CategoryTable`` (from configuration)
* :mod:`addressregister.live` - ``LiveRegister`` (the parties topic as a live snapshot),
  ``StaticRegister``, ``RegisterView``
* :mod:`addressregister.importer` - ``import_file``, ``seed_from_snapshot``;
  :mod:`addressregister.fileformat` - register files (JSON, CSV)
* :mod:`addressregister.generator` - ``generate_national_register``
* :mod:`addressregister.api` - ``create_app``, ``create_router``,
  ``install_problem_handlers`` (the look-up API)
"""
