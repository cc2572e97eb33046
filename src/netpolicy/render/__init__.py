"""Pure renderers: results in, text out."""

from netpolicy.render.connlist import FORMATS, render_connlist

__all__ = ["FORMATS", "render_connlist"]
