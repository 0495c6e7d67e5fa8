"""The lowest layer: the hub's root exception and how errors are described safely.

Every package imports it and it imports no package of the hub's, so the root of the
error hierarchy does not tie the foundation packages to the composition root.
"""
