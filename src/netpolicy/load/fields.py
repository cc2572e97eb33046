"""Typed, defensive access to raw manifest data; every mistake becomes a located diagnostic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netpolicy.model import Diagnostic, Severity, SourceRef

from .positions import FieldPath, Locator, format_path

Raw = dict[str, Any]


@dataclass
class Report:
    """The diagnostics of one load, in the order they were found."""

    items: list[Diagnostic] = field(default_factory=list)
    errors: int = 0

    def add(self, severity: Severity, message: str, source: SourceRef, code: str = "") -> None:
        self.items.append(Diagnostic(severity, message, source, code))
        if severity == "error":
            self.errors += 1


@dataclass(frozen=True, slots=True)
class Document:
    """One object as parsed (a document, or an item of a List) and where it was written."""

    value: object
    file: str
    doc: int
    locator: Locator
    prefix: FieldPath = ()

    def item(self, value: object, path: FieldPath) -> Document:
        """The document of an element below this one (a List item)."""
        return Document(value, self.file, self.doc, self.locator, self.prefix + path)

    def ref(self, path: FieldPath = ()) -> SourceRef:
        return SourceRef(
            self.file, self.locator.line(self.prefix + path), self.doc, format_path(path)
        )


def type_name(value: object) -> str:
    """How the API documentation names the JSON type of a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def describe(value: object) -> str:
    """`Pod shop/web-1`, `Namespace shop`, `a Pod without a name`, `a document`."""
    if not isinstance(value, dict):
        return "a document"
    kind = value.get("kind")
    kind = kind if isinstance(kind, str) and kind else "object"
    meta = value.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        return f"a {kind} without a name"
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    if isinstance(namespace, str) and namespace:
        return f"{kind} {namespace}/{name}"
    return f"{kind} {name}"


class ObjectContext:
    """Reads the fields of one object, reporting type errors with their location."""

    __slots__ = ("doc", "report")

    def __init__(self, doc: Document, report: Report) -> None:
        self.doc = doc
        self.report = report

    @property
    def errors(self) -> int:
        return self.report.errors

    def ref(self, path: FieldPath = ()) -> SourceRef:
        return self.doc.ref(path)

    def error(self, path: FieldPath, message: str, code: str = "invalid") -> None:
        self.report.add("error", message, self.ref(path), code)

    def warning(self, path: FieldPath, message: str, code: str = "") -> None:
        self.report.add("warning", message, self.ref(path), code)

    def info(self, path: FieldPath, message: str, code: str = "") -> None:
        self.report.add("info", message, self.ref(path), code)

    def _wrong_type(self, path: FieldPath, expected: str, value: object) -> None:
        self.error(path, f"must be {expected}, not {type_name(value)}", "type")

    def mapping(self, value: object, path: FieldPath) -> Raw | None:
        """`value` as a mapping; None when absent or null, or after reporting a type error."""
        if value is None or isinstance(value, dict):
            return value
        self._wrong_type(path, "a mapping", value)
        return None

    def sequence(self, value: object, path: FieldPath) -> list[Any] | None:
        if value is None or isinstance(value, list):
            return value
        self._wrong_type(path, "a list", value)
        return None

    def string(self, value: object, path: FieldPath) -> str | None:
        if value is None or isinstance(value, str):
            return value
        self._wrong_type(path, "a string", value)
        return None

    def integer(self, value: object, path: FieldPath) -> int | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self._wrong_type(path, "an integer", value)
        return None

    def boolean(self, value: object, path: FieldPath) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self._wrong_type(path, "a boolean", value)
        return None

    def strings(self, value: object, path: FieldPath) -> list[str] | None:
        """A list of strings; wrong elements are reported and left out."""
        items = self.sequence(value, path)
        if items is None:
            return None
        out = []
        for i, item in enumerate(items):
            text = self.string(item, (*path, i))
            if text is not None:
                out.append(text)
            elif item is None:
                self._wrong_type((*path, i), "a string", item)
        return out

    def string_map(self, value: object, path: FieldPath) -> dict[str, str] | None:
        """A mapping of strings to strings (labels); wrong values are reported and left out."""
        raw = self.mapping(value, path)
        if raw is None:
            return None
        out = {}
        for key, item in raw.items():
            if isinstance(item, str):
                out[key] = item
            else:
                self._wrong_type((*path, key), "a string", item)
        return out

    def unknown_fields(self, raw: Raw, path: FieldPath, known: Iterable[str]) -> None:
        """Warn about fields the API does not define: a typo there silently widens a policy."""
        allowed = set(known)
        for key in raw:
            if key not in allowed:
                self.warning((*path, key), f"unknown field {key!r}", "unknown-field")
