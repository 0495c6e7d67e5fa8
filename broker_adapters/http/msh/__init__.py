"""NHN's message server REST API (MSH API v2) on the hub's API port, so EPJ systems connect
unchanged.

Others import :func:`broker_adapters.http.msh.routes.msh_router` with its
:class:`~broker_adapters.http.msh.routes.MshDeps`, and the authentication seam in
:mod:`broker_adapters.http.msh.caller` (:class:`~broker_adapters.http.msh.caller.Caller`,
:class:`~broker_adapters.http.msh.caller.Authenticator`,
:func:`~broker_adapters.http.msh.caller.helseid_caller`).
"""
