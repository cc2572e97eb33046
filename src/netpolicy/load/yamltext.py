"""Multi-document YAML → documents, with the line of every field kept for diagnostics.

Read as kubectl reads (sigs.k8s.io/yaml: go-yaml, a port of libyaml, in strict mode): the
syntax is libyaml's, TABs included (one in indentation is an error; one inside a flow
collection is not), and a duplicate mapping key rejects its document. Most documents take
`yamlfast`, several times faster; the rest are composed by PyYAML with node positions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from netpolicy.model import SourceRef

from . import yamlfast
from .fields import Document, Report, describe
from .positions import FieldPath, format_path
from .yamlfast import UNSUPPORTED_CHARACTERS, Unsupported

_SEPARATOR = re.compile(r"^---(?=[ \t\r]|$)", re.MULTILINE)
_CONTENT = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)


class PureLoader(yaml.SafeLoader):
    """PyYAML's pure-Python loader, skipping TABs between tokens where libyaml does.

    libyaml and go-yaml skip a TAB in the flow context and after a simple key's `:`; only
    at the start of a block line (indentation) is it an error. PyYAML's scanner skips no
    TAB at all. Used only where PyYAML was installed without libyaml.
    """

    def scan_to_next_token(self) -> None:
        if self.index == 0 and self.peek() == "\ufeff":
            self.forward()
        found = False
        while not found:
            while self.peek() == " " or (
                self.peek() == "\t" and (self.flow_level or not self.allow_simple_key)
            ):
                self.forward()
            if self.peek() == "#":
                while self.peek() not in "\0\r\n\x85\u2028\u2029":
                    self.forward()
            if self.scan_line_break():
                if not self.flow_level:
                    self.allow_simple_key = True
            else:
                found = True


LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", PureLoader)
"""The loader that composes nodes; libyaml's when PyYAML has it (much faster)."""

_CParser: Any
try:
    from yaml._yaml import CParser as _CParser  # libyaml's parser, judge of the fast path
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

_TAG = "tag:yaml.org,2002:"
_constructor = SafeConstructor()
_SCALARS = {
    f"{_TAG}int": _constructor.construct_yaml_int,
    f"{_TAG}float": _constructor.construct_yaml_float,
    f"{_TAG}bool": _constructor.construct_yaml_bool,
    f"{_TAG}null": _constructor.construct_yaml_null,
}


class NodeLocator:
    """Finds lines by walking a composed YAML node tree along the path."""

    __slots__ = ("_offset", "_root")

    def __init__(self, root: yaml.Node, line_offset: int = 0) -> None:
        self._root = root
        self._offset = line_offset

    def line(self, path: FieldPath) -> int:
        node = self._root
        mark = node.start_mark
        for part in path:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == part:
                        # Point at the key: a block mapping value starts on the next line.
                        mark, child = key.start_mark, value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                mark = child.start_mark
            if child is None:
                break
            node = child
        return mark.line + 1 + self._offset


def _split(text: str) -> Iterator[tuple[int, str]]:
    """YAML documents as (first line index, text), split on `---` lines like Go's reader."""
    starts = [0] + [m.start() for m in _SEPARATOR.finditer(text) if m.start() > 0]
    line = 0
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        chunk = text[start:end]
        yield line, chunk
        line += chunk.count("\n")


def yaml_documents(text: str, file: str, report: Report) -> Iterator[Document]:
    """The documents of a YAML stream, split on `---` lines as kubectl splits them.

    A document that libyaml rejects is reported and left out; so is one with a duplicate
    mapping key (kubectl's YAML reader is strict). The others still load.
    """
    doc = 0
    cache: dict[str, Any] = {}
    for first_line, chunk in _split(text):
        body = _SEPARATOR.sub("", chunk, count=1)
        if not _CONTENT.search(body):
            continue
        document = _read_fast(chunk, file, first_line, doc, cache)
        if document is None:
            document = _read_exact(chunk, file, first_line, doc, report)
        if document is not None:
            yield document
        doc += 1


def _read_fast(
    chunk: str, file: str, first_line: int, doc: int, cache: dict[str, Any]
) -> Document | None:
    """The document through the fast reader, when it has the plain block shape and libyaml
    accepts it (libyaml's parser, without building Python nodes, is the judge of syntax)."""
    if _CParser is None or UNSUPPORTED_CHARACTERS.search(chunk):
        return None
    try:
        value, locator = yamlfast.read(chunk, first_line, cache)
    except Unsupported:
        return None
    try:
        _CParser(chunk).raw_parse()
    except yaml.YAMLError:
        return None  # read again below, to report the error as libyaml words it
    return Document(value, file, doc, locator)


def _read_exact(
    chunk: str, file: str, first_line: int, doc: int, report: Report
) -> Document | None:
    node = _compose(chunk, file, first_line, doc, report)
    if node is None:
        return None
    duplicates: list[tuple[yaml.MappingNode, yaml.Node]] = []
    try:
        value = to_value(node, {}, duplicates)
    except RecursionError:
        report.add(
            "error",
            "invalid YAML: nesting too deep (or a recursive alias)",
            SourceRef(file, first_line + 1, doc),
            "syntax",
        )
        return None
    if duplicates:
        _report_duplicates(node, value, duplicates, file, first_line, doc, report)
        return None
    return Document(value, file, doc, NodeLocator(node, first_line))


def _compose(chunk: str, file: str, first_line: int, doc: int, report: Report) -> yaml.Node | None:
    try:
        return yaml.compose(chunk, Loader=LOADER)  # type: ignore[no-any-return]
    except yaml.YAMLError as err:
        report.add(
            "error",
            _yaml_message(err, chunk, first_line),
            _yaml_source(err, file, first_line, doc),
            "syntax",
        )
        return None


def _yaml_message(err: yaml.YAMLError, chunk: str, first_line: int) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        parts = [p for p in (err.context, err.problem) if p]
        mark = err.problem_mark or err.context_mark
        where = f" (line {first_line + mark.line + 1}, column {mark.column + 1})" if mark else ""
        hint = ""
        if err.problem_mark is not None and _character_at(chunk, err.problem_mark) == "\t":
            hint = ": a TAB character (YAML indents with spaces only; kubectl rejects it too)"
        return f"invalid YAML: {': '.join(parts)}{where}{hint}"
    return f"invalid YAML: {err}"


def _character_at(chunk: str, mark: yaml.Mark) -> str:
    lines = chunk.split("\n", mark.line + 1)
    if mark.line >= len(lines):
        return ""
    return lines[mark.line][mark.column : mark.column + 1]


def _yaml_source(err: yaml.YAMLError, file: str, first_line: int, doc: int) -> SourceRef:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    return SourceRef(file, first_line + (mark.line + 1 if mark else 1), doc)


def to_value(
    node: yaml.Node,
    memo: dict[int, Any],
    duplicates: list[tuple[yaml.MappingNode, yaml.Node]] | None = None,
) -> Any:
    """Plain Python data of a composed node, as sigs.k8s.io/yaml would give (keys as text).

    `memo` maps node ids to values so that an alias is converted once ("billion laughs").
    A key written twice in one mapping is appended to `duplicates` (the later one wins).
    """
    if isinstance(node, yaml.ScalarNode):
        construct = _SCALARS.get(node.tag)
        return construct(node) if construct is not None else node.value
    known = memo.get(id(node))
    if known is not None:
        return known
    value: Any = None
    if isinstance(node, yaml.SequenceNode):
        value = [to_value(item, memo, duplicates) for item in node.value]
    elif isinstance(node, yaml.MappingNode):
        value = _mapping(node, memo, duplicates)
    memo[id(node)] = value
    return value


def _mapping(
    node: yaml.MappingNode,
    memo: dict[int, Any],
    duplicates: list[tuple[yaml.MappingNode, yaml.Node]] | None,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for key, value in node.value:
        if key.tag == f"{_TAG}merge":
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in reversed(sources):
                data = to_value(source, memo, duplicates)
                if isinstance(data, dict):
                    merged.update(data)
            continue
        name = _key_text(key, memo)
        if duplicates is not None and name in result:
            duplicates.append((node, key))
        result[name] = to_value(value, memo, duplicates)
    return {**merged, **result} if merged else result


def _key_text(key: yaml.Node, memo: dict[int, Any]) -> str:
    return key.value if isinstance(key, yaml.ScalarNode) else str(to_value(key, memo))


def _report_duplicates(
    root: yaml.Node,
    value: Any,
    duplicates: list[tuple[yaml.MappingNode, yaml.Node]],
    file: str,
    first_line: int,
    doc: int,
    report: Report,
) -> None:
    """One error per mapping with a key written twice, at the second key's line.

    kubectl (strict YAML) rejects the whole document, so the message says what is lost.
    """
    done: set[int] = set()
    for mapping, key in duplicates:
        if id(mapping) in done:
            continue
        done.add(id(mapping))
        memo: dict[int, Any] = {}
        name = _key_text(key, memo)
        names = [_key_text(k, memo) for k, _ in mapping.value]
        first = next(k for k, _ in mapping.value if _key_text(k, memo) == name)
        others = sorted({n for n in names if names.count(n) > 1} - {name})
        also = "".join(f', "{other}"' for other in others)
        path = _path_to(root, mapping) or ()
        message = (
            f'duplicate key "{name}" (first at line {first.start_mark.line + 1 + first_line}'
            f"{'; also ' + also[2:] if also else ''}): "
            f"{_what_is_lost(mapping, path, value, first_line)}"
        )
        report.add(
            "error",
            message,
            SourceRef(file, key.start_mark.line + 1 + first_line, doc, format_path((*path, name))),
            "duplicate-key",
        )


def _what_is_lost(mapping: yaml.MappingNode, path: FieldPath, value: Any, first_line: int) -> str:
    rejected = "kubectl rejects a document with a duplicate key, so"
    if not path:
        objects = _run_together(mapping)
        if len(objects) > 1:
            shown = ", ".join(f"{describe(v)} (line {line + first_line})" for v, line in objects)
            return (
                f'{len(objects)} objects run together without a "---" line between them; '
                f"{rejected} none of them is loaded: {shown}"
            )
    items, at = value, path[:1]
    if isinstance(value, dict) and str(value.get("kind", "")).endswith("List"):
        items, at = value.get("items"), path[1:2] if path[:1] == ("items",) else ()
    if isinstance(items, list):
        where = ""
        if at and isinstance(at[0], int):
            where = f" (the key is in {describe(items[at[0]])})"
        return f"{rejected} none of its {len(items)} objects is loaded{where}"
    return f"{rejected} {describe(value)} is not loaded"


def _run_together(mapping: yaml.MappingNode) -> list[tuple[Any, int]]:
    """The objects in a top-level mapping whose keys repeat, as `cat a.yaml b.yaml` makes
    when a.yaml does not end with `---`: a new object starts where a key repeats."""
    groups: list[list[tuple[yaml.Node, yaml.Node]]] = [[]]
    seen: set[str] = set()
    memo: dict[int, Any] = {}
    for key, node in mapping.value:
        name = _key_text(key, memo)
        if name in seen:
            groups.append([])
            seen = set()
        seen.add(name)
        groups[-1].append((key, node))
    objects = []
    for group in groups:
        fields = {
            _key_text(k, memo): to_value(v, memo)
            for k, v in group
            if _key_text(k, memo) in ("kind", "metadata")
        }
        objects.append((fields, group[0][0].start_mark.line + 1))
    return objects


def _path_to(root: yaml.Node, target: yaml.Node) -> FieldPath | None:
    """The field path from `root` to the node `target` (by identity), depth first."""
    stack: list[tuple[yaml.Node, FieldPath]] = [(root, ())]
    seen: set[int] = set()
    memo: dict[int, Any] = {}
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend((v, (*path, _key_text(k, memo))) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, (*path, i)) for i, v in enumerate(node.value))
    return None


def report_duplicate_keys(text: str, file: str, report: Report) -> bool:
    """Report the duplicate keys of a document given whole (a JSON file: JSON is YAML's
    flow style, so libyaml gives the lines); False when it cannot be read that way."""
    try:
        node = yaml.compose(text, Loader=LOADER)
    except yaml.YAMLError:
        return False
    duplicates: list[tuple[yaml.MappingNode, yaml.Node]] = []
    try:
        value = to_value(node, {}, duplicates) if node is not None else None
    except RecursionError:
        return False
    if node is None or not duplicates:
        return False
    _report_duplicates(node, value, duplicates, file, 0, 0, report)
    return True
