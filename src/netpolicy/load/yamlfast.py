"""A fast reader for the plain block YAML that tools write, exact or not at all.

`kubectl get -o yaml`, `helm template` and generators write one narrow shape: block mappings
and sequences indented with spaces, keys of letters, digits and `_./-`, plain or one-line
quoted scalars, `{}` and `[]`, whole-line comments. This module reads that shape line by
line, several times faster than composing PyYAML nodes, and gives up (`Unsupported`) at the
first line outside it; the caller then reads the document with libyaml as before. What
this reader returns is used only once libyaml's own parser has accepted the document (see
`yamltext`), so libyaml alone judges the syntax; scalars are resolved by PyYAML's YAML 1.1
resolvers and constructors, so every value and line equals what composing PyYAML nodes
gives (tests/load/test_yamlfast.py compares both, on the peer suite and random documents).
"""

from __future__ import annotations

import json
import re
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from .positions import FieldPath


class Unsupported(Exception):
    """The document has something this reader does not handle; read it with libyaml."""


UNSUPPORTED_CHARACTERS = re.compile("[\t\r\x85\u2028\u2029\ufeff]")
"""TABs need libyaml's rules; other line breaks and a BOM are rare and left to libyaml too."""

_LINE = re.compile(
    r"(?P<indent> *)(?P<dash>- +)?"
    r"(?:(?P<key>[A-Za-z0-9_][A-Za-z0-9_./-]*):(?: +(?P<value>.*))?|(?P<scalar>.*))\Z"
)
# A plain scalar (its comment cut off): no indicator first (a `-` only before a
# non-space), no `: ` and no ` #` inside (nor a `:` at the end), no trailing space.
_PLAIN = re.compile(
    r"(?:[^-?:,\[\]{}#&*!|>'\"%@`\s ]|-[^\s,\[\]{}#:])"
    r"(?:[^:#]|:(?![ ]|\Z)|(?<! )#)*(?<! )\Z"
)
MAX_DEPTH = 100
"""Deeper documents go to the exact reader, which rejects nesting past Python's recursion."""

_DOCUMENT_START = re.compile(r"---[ ]*(?:#.*)?\Z")

_TAG = "tag:yaml.org,2002:"
_CONSTRUCTOR = SafeConstructor()
_CONSTRUCTORS = {
    f"{_TAG}int": _CONSTRUCTOR.construct_yaml_int,
    f"{_TAG}float": _CONSTRUCTOR.construct_yaml_float,
    f"{_TAG}bool": _CONSTRUCTOR.construct_yaml_bool,
    f"{_TAG}null": _CONSTRUCTOR.construct_yaml_null,
}
_RESOLVERS = Resolver.yaml_implicit_resolvers


def plain_value(text: str) -> Any:
    """A plain scalar as PyYAML's SafeLoader resolves it (YAML 1.1): int, float, bool, None
    or the text itself (timestamps stay text, as sigs.k8s.io/yaml leaves them)."""
    for tag, pattern in _RESOLVERS.get(text[0], ()):
        if pattern.match(text):
            construct = _CONSTRUCTORS.get(tag)
            return construct(ScalarNode(tag, text)) if construct is not None else text
    return text


def _scalar(text: str, cache: dict[str, Any]) -> Any:
    """The value of a scalar or a one-line flow sequence written as the rest of a line,
    a comment after it allowed. `cache` maps text to values that are immutable."""
    known = cache.get(text, cache)
    if known is not cache:
        return known
    first = text[0]
    if first in "\"'":
        end = _quoted_end(text, 0)
        value: Any = _unquote(text[:end])
    elif first == "[":
        items, end = _flow_sequence(text)
        _comment_only(text[end:])
        return items
    elif first == "{":
        if text[1:2] != "}":
            raise Unsupported
        _comment_only(text[2:])
        return {}
    else:
        comment = text.find(" #")
        plain = text[:comment].rstrip(" ") if comment >= 0 else text
        if not _PLAIN.match(plain):
            raise Unsupported
        value = plain_value(plain)
        end = len(text)
    _comment_only(text[end:])
    cache[text] = value
    return value


_COMMENT = re.compile(r"(?: +#.*)?\Z")


def _comment_only(rest: str) -> None:
    if rest and not _COMMENT.match(rest):
        raise Unsupported


def _quoted_end(text: str, start: int) -> int:
    """The index after the quoted scalar that starts at `start`, closed on this line."""
    if text[start] == '"':
        found = _DOUBLE_QUOTED.match(text, start)
        if found is None:
            raise Unsupported  # other escapes, or a scalar continued on the next lines
        return found.end()
    at = start + 1
    while True:
        close = text.find("'", at)
        if close < 0:
            raise Unsupported
        if text[close + 1 : close + 2] != "'":
            return close + 1
        at = close + 2


# The escapes that YAML and JSON write alike; json.loads reads them (in C).
_DOUBLE_QUOTED = re.compile(r'"(?:[^"\\]|\\["\\/bfnrt])*"')


def _unquote(quoted: str) -> str:
    if quoted[0] == "'":
        return quoted[1:-1].replace("''", "'")
    if "\\" not in quoted:
        return quoted[1:-1]
    try:
        return json.loads(quoted)  # type: ignore[no-any-return]
    except ValueError:
        raise Unsupported from None  # a control character: libyaml has its own rules


# An item of a one-line flow sequence: quoted, or plain without spaces, `:` or `#`.
_FLOW_ITEM = re.compile(r" *(?:([\"'])|(-?[A-Za-z0-9_./=+][A-Za-z0-9_./=+-]*)) *")
_FLOW_NEXT = re.compile(r" *([,\]])")


def _flow_sequence(text: str) -> tuple[list[Any], int]:
    """`[a, "b", 'c']` on one line: the items and the index after `]`."""
    items: list[Any] = []
    after = _FLOW_NEXT.match(text, 1)
    if after is not None and after[1] == "]":
        return items, after.end()
    at = 1
    while True:
        found = _FLOW_ITEM.match(text, at)
        if found is None:
            raise Unsupported
        if found[1]:
            end = _quoted_end(text, found.start(1))
            items.append(_unquote(text[found.start(1) : end]))
        else:
            end = found.end()
            items.append(plain_value(found[2]))
        after = _FLOW_NEXT.match(text, end)
        if after is None:
            raise Unsupported
        at = after.end()
        if after[1] == "]":
            return items, at
        closing = _FLOW_NEXT.match(text, at)
        if closing is not None and closing[1] == "]":
            return items, closing.end()  # a trailing comma


def _block_literal(lines: list[str], number: int, indicator: str, parent: int) -> tuple[str, int]:
    """A literal block scalar (`|` or `|-`) whose indicator ends line `number`: its value
    and the index of the first line after it. Indentation is detected from its first line."""
    content: list[str] = []
    indent = 0
    breaks = 0  # empty lines after the last content line
    at = number + 1
    while at < len(lines):
        raw = lines[at]
        body = raw.lstrip(" ")
        spaces = len(raw) - len(body)
        if not body:
            if not content or spaces > indent:
                raise Unsupported  # leading empty lines, or spaces kept as content
            breaks += 1
        elif not content:
            if spaces <= parent:
                raise Unsupported  # an empty block scalar
            indent = spaces
            content.append(raw[indent:])
        elif spaces >= indent:
            content.extend([""] * breaks)
            breaks = 0
            content.append(raw[indent:])
        else:
            break
        at += 1
    if not content:
        raise Unsupported
    value = "\n".join(content)
    # clip keeps the line break after the last content line, when there is one
    last = at - breaks - 1
    if indicator == "|" and last < len(lines) - 1:
        value += "\n"
    return value, at


Lines = dict[int, Any]
"""Where each entry was written, by `id()` of its mapping (key → line) or list (lines)."""


def read(chunk: str, first_line: int, cache: dict[str, Any]) -> tuple[Any, FastLocator]:
    """The value of one document and where its fields were written.

    `chunk` may start with its `---` line; `first_line` is the number of lines before it.
    `cache` maps scalar text to its value, across documents (resolving is the slow part).
    Raises `Unsupported` for anything outside the plain block shape.
    """
    lines = chunk.split("\n")
    number = 0
    if lines[0].startswith("---"):
        if not _DOCUMENT_START.match(lines[0]):
            raise Unsupported
        number = 1
    where: Lines = {}
    root: Any = None
    root_line = 0
    # The open collections, outermost first: (column, mapping or list, its line table).
    stack: list[tuple[int, Any, Any]] = []
    pending: tuple[dict[str, Any], str, int] | None = None  # a `key:` whose value is below
    deepest = -1  # after a scalar, no later line may be indented past this (-1: no limit)
    match_line = _LINE.match
    count = len(lines)
    while number < count:
        text = lines[number].rstrip(" ")
        number += 1
        if not text:
            continue
        found = match_line(text)
        if found is None:  # pragma: no cover - the pattern matches every line
            raise Unsupported
        indent, dash, key, value, rest = found.groups()
        if key is None and not dash and rest[:1] == "#":
            continue  # a comment line
        column = len(indent)
        if 0 <= deepest < column:
            raise Unsupported  # a scalar continued on this line
        line = first_line + number
        if dash:
            if pending is not None and column >= pending[2]:
                # `key:` then `- item` at the key's column or deeper: a new list
                sequence: list[Any] = []
                pending[0][pending[1]] = sequence
                pending = None
                stack.append((column, sequence, []))
                where[id(sequence)] = stack[-1][2]
            else:
                if pending is not None:
                    pending[0][pending[1]] = None
                    pending = None
                while stack and stack[-1][0] > column:
                    stack.pop()
                if root is None:
                    root, root_line = [], line
                    stack.append((column, root, []))
                    where[id(root)] = stack[-1][2]
                if not stack or stack[-1][0] != column or type(stack[-1][1]) is not list:
                    raise Unsupported
            _, sequence, table = stack[-1]
            table.append(line)
            if key is None:
                if not rest or rest[0] == "#":
                    raise Unsupported  # `-` alone: the item is on the next lines, or null
                if rest in _LITERALS:
                    item, number = _block_literal(lines, number - 1, rest, column)
                    sequence.append(item)
                else:
                    sequence.append(_scalar(rest, cache))
                deepest = column
                continue
            entry: dict[str, Any] = {}
            sequence.append(entry)
            column += len(dash)
            stack.append((column, entry, {}))
            where[id(entry)] = stack[-1][2]
        elif key is None:
            raise Unsupported  # a scalar document, a `? key`, a quoted key, a directive, ...
        elif pending is not None and column > pending[2]:
            entry = {}
            pending[0][pending[1]] = entry
            pending = None
            stack.append((column, entry, {}))
            where[id(entry)] = stack[-1][2]
        else:
            if pending is not None:
                pending[0][pending[1]] = None
                pending = None
            while stack and stack[-1][0] > column:
                stack.pop()
            if stack and stack[-1][0] == column and type(stack[-1][1]) is list:
                stack.pop()  # the list was the value of a key at this column
            if root is None:
                root, root_line = {}, line
                stack.append((column, root, {}))
                where[id(root)] = stack[-1][2]
            if not stack or stack[-1][0] != column or type(stack[-1][1]) is not dict:
                raise Unsupported
        _, mapping, table = stack[-1]
        if len(stack) > MAX_DEPTH:
            raise Unsupported  # the exact reader reports nesting too deep
        if key in mapping:
            raise Unsupported  # a duplicate key: libyaml's reader reports it with its lines
        table[key] = line
        if value is None or value[0] == "#":
            pending = (mapping, key, column)
            deepest = -1
        elif value in _LITERALS:
            mapping[key], number = _block_literal(lines, number - 1, value, column)
            deepest = column
        else:
            mapping[key] = _scalar(value, cache)
            deepest = column
    if pending is not None:
        pending[0][pending[1]] = None
    if root is None:
        raise Unsupported  # only comments: nothing to read
    return root, FastLocator(root, root_line, where)


_LITERALS = frozenset(("|", "|-"))


class FastLocator:
    """Lines of a document read by `read`, as `NodeLocator` gives them for composed nodes:
    a key's line for a mapping entry, an item's first line for a list entry."""

    __slots__ = ("_root", "_root_line", "_where")

    def __init__(self, root: Any, root_line: int, where: Lines) -> None:
        self._root = root
        self._root_line = root_line
        self._where = where

    def line(self, path: FieldPath) -> int:
        node, line = self._root, self._root_line
        for part in path:
            found = (isinstance(node, dict) and isinstance(part, str) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            )
            if not found:
                break
            table = self._where.get(id(node))
            if table is not None:  # else a one-line flow collection: the line stays
                line = table[part]
            node = node[part]
        return line
