"""The lowest layer: the root exception, safe error descriptions, RFC 9457 problem details.

Every package imports it and it imports no package of the hub's, so the root of the
error hierarchy does not tie the foundation packages to the composition root.
"""
