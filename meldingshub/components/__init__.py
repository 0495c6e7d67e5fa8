"""Hub components: long-running workers the composition root starts in threads or processes."""

from meldingshub.components.base import Component

__all__ = ["Component"]
