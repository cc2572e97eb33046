"""Field paths and the line numbers they were written on, for YAML and JSON input."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

PathPart = str | int
FieldPath = tuple[PathPart, ...]
"""A path below an object, e.g. ("spec", "ingress", 0, "from")."""

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


@lru_cache(maxsize=4096)  # the same paths recur in every object of a kind
def format_path(path: FieldPath) -> str:
    """The Kubernetes spelling of a field path: `spec.ingress[0].from[1].ipBlock.cidr`."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            # Label keys like app.kubernetes.io/name would be ambiguous after a dot.
            out.append(f"[{part}]")
    return "".join(out)


class Locator(Protocol):
    """Gives the 1-based line of a field path within one document."""

    def line(self, path: FieldPath) -> int: ...


class JsonLocator:
    """Lines of the top-level value and of each top-level list item (array or List `items`).

    Finer positions inside an item are not tracked: JSON input is usually machine output.
    Lines are counted from the offsets on first use.
    """

    __slots__ = ("_item_lines", "_offsets", "_text", "_top_line", "_top_offset")

    def __init__(self, text: str, top_offset: int = 0, item_offsets: list[int] | None = None):
        self._text = text
        self._top_offset = top_offset
        self._offsets = item_offsets or []
        self._top_line = 0
        self._item_lines: list[int] = []

    def line(self, path: FieldPath) -> int:
        if not self._top_line:
            self._count()
        index: PathPart | None = None
        if path and isinstance(path[0], int):
            index = path[0]
        elif len(path) > 1 and path[0] == "items":
            index = path[1]
        if isinstance(index, int) and 0 <= index < len(self._item_lines):
            return self._item_lines[index]
        return self._top_line

    def _count(self) -> None:
        text = self._text
        self._top_line = line = text.count("\n", 0, self._top_offset) + 1
        last = self._top_offset
        for offset in self._offsets:
            line += text.count("\n", last, offset)
            last = offset
            self._item_lines.append(line)
        self._text = ""
