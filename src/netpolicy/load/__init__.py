"""Manifests → model: files, directories, stdin and Lists, with positions and API validation.

The only layer that sees raw YAML/JSON; everything it returns is `netpolicy.model` data.
"""

from __future__ import annotations

from .manifests import LoadResult, gc_paused, load_manifests, load_text
from .sources import MANIFEST_SUFFIXES

__all__ = ["MANIFEST_SUFFIXES", "LoadResult", "gc_paused", "load_manifests", "load_text"]
