"""The hub's HTTP face for systems: bearer-token authentication, problem details, ingress API.

Others import :func:`broker_adapters.http.auth.bearer_principal` (authentication for any
API that serves a principal), :class:`hubcore.problems.ProblemRoute` and
:class:`~hubcore.problems.ProblemError` (RFC 9457 errors), and
:func:`broker_adapters.http.ingress_api.ingress_router` (message submission and status).
"""
