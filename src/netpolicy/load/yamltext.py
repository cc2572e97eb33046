"""Multi-document YAML → documents, with the line of every field kept for diagnostics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from netpolicy.model import SourceRef

from .fields import Document, Report
from .positions import FieldPath

_SEPARATOR = re.compile(r"^---(?=[ \t\r]|$)", re.MULTILINE)
_CONTENT = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)
_TAB_PROBLEM = "cannot start any token"

# libyaml is much faster; the pure-Python loader words a few messages differently.
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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
    doc = 0
    for first_line, chunk in _split(text):
        body = _SEPARATOR.sub("", chunk, count=1)
        if not _CONTENT.search(body):
            continue
        node = _compose(chunk, file, first_line, doc, report)
        if node is not None:
            try:
                value = to_value(node, {})
            except RecursionError:
                report.add(
                    "error",
                    "invalid YAML: nesting too deep (or a recursive alias)",
                    SourceRef(file, first_line + 1, doc),
                    "syntax",
                )
            else:
                yield Document(value, file, doc, NodeLocator(node, first_line))
        doc += 1


def _compose(chunk: str, file: str, first_line: int, doc: int, report: Report) -> yaml.Node | None:
    try:
        return yaml.compose(chunk, Loader=LOADER)  # type: ignore[no-any-return]
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or ""
        if _TAB_PROBLEM in problem and "\t" in chunk:
            # go-yaml accepts a TAB where PyYAML does not (e.g. inside a flow sequence).
            try:
                node = yaml.compose(chunk.replace("\t", " "), Loader=LOADER)
            except yaml.YAMLError:
                pass
            else:
                mark = getattr(err, "problem_mark", None)
                line = first_line + (mark.line + 1 if mark else 1)
                report.add(
                    "info",
                    "TAB characters read as spaces: PyYAML rejects TABs where go-yaml accepts them",
                    SourceRef(file, line, doc),
                    "yaml-tab",
                )
                return node  # type: ignore[no-any-return]
        report.add(
            "error",
            _yaml_message(err, first_line),
            _yaml_source(err, file, first_line, doc),
            "syntax",
        )
        return None


def _yaml_message(err: yaml.YAMLError, first_line: int) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        parts = [p for p in (err.context, err.problem) if p]
        mark = err.problem_mark or err.context_mark
        where = f" (line {first_line + mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"invalid YAML: {': '.join(parts)}{where}"
    return f"invalid YAML: {err}"


def _yaml_source(err: yaml.YAMLError, file: str, first_line: int, doc: int) -> SourceRef:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    return SourceRef(file, first_line + (mark.line + 1 if mark else 1), doc)


def to_value(node: yaml.Node, memo: dict[int, Any]) -> Any:
    """Plain Python data of a composed node, as sigs.k8s.io/yaml would give (keys as text).

    `memo` maps node ids to values so that an alias is converted once ("billion laughs").
    """
    if isinstance(node, yaml.ScalarNode):
        construct = _SCALARS.get(node.tag)
        return construct(node) if construct is not None else node.value
    known = memo.get(id(node))
    if known is not None:
        return known
    value: Any = None
    if isinstance(node, yaml.SequenceNode):
        value = [to_value(item, memo) for item in node.value]
    elif isinstance(node, yaml.MappingNode):
        value = _mapping(node, memo)
    memo[id(node)] = value
    return value


def _mapping(node: yaml.MappingNode, memo: dict[int, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for key, value in node.value:
        if key.tag == f"{_TAG}merge":
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in reversed(sources):
                data = to_value(source, memo)
                if isinstance(data, dict):
                    merged.update(data)
            continue
        name = key.value if isinstance(key, yaml.ScalarNode) else str(to_value(key, memo))
        result[name] = to_value(value, memo)
    return {**merged, **result} if merged else result
