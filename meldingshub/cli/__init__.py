"""The ``meldingshub`` command line: one group, one module per command family.

Each command module registers itself on :data:`main` when imported; the list
below is the only place that names them.
"""

import importlib

from meldingshub.cli.common import main

COMMAND_MODULES = [
    "meldingshub.cli.run",
    "meldingshub.cli.dlq",
    "meldingshub.cli.stats",
    "meldingshub.cli.verify",
    "meldingshub.cli.simulate",
    "meldingshub.cli.monitor",
    "meldingshub.cli.inspect",
    "meldingshub.cli.register",
    "meldingshub.cli.credentials",
]

for _module in COMMAND_MODULES:
    importlib.import_module(_module)

__all__ = ["main"]
