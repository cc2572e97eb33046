"""The fast YAML reader against libyaml: equal values and equal lines, or no answer at all."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netpolicy.load import load_text, yamlfast, yamltext
from netpolicy.load.fields import Report
from netpolicy.load.positions import FieldPath

from ._helpers import DATA


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types (1, 1.0 and True differ), keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _paths(value: Any, prefix: FieldPath = ()) -> list[FieldPath]:
    """Every path into `value`, and one missing key and index below each collection."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
        out.append((*prefix, "no-such-key"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
        out.append((*prefix, len(value)))
    return out


def _compare(text: str) -> int:
    """Read every document of `text` both ways; the number that the fast reader took."""
    taken = 0
    for first_line, chunk in yamltext._split(text):
        fast = yamltext._read_fast(chunk, "f.yaml", first_line, 0, {})
        if fast is None:
            continue
        report = Report()
        exact = yamltext._read_exact(chunk, "f.yaml", first_line, 0, report)
        assert exact is not None, (chunk, report.items)
        assert _same(fast.value, exact.value), chunk
        for path in _paths(exact.value):
            assert fast.locator.line(path) == exact.locator.line(path), (chunk, path)
        taken += 1
    return taken


def test_the_shape_tools_write_is_read_fast_and_exactly() -> None:
    text = """\
# Source: chart/templates/pod.yaml
apiVersion: v1
kind: Pod
metadata:
  name: web-1   # trailing comment
  namespace: shop
  labels:
    app: web
    version: "1.0"
    tier: 'front''end'
    enabled: yes
    count: 017
    hex: 0x1F
    big: 1_000
    ratio: .5
    nothing: ~
    empty:
    date: 2021-01-01
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Pod"}
    note: |-
      two

      lines
spec:
  containers:
  - name: c
    command: ["/bin/sh", "-c", 'echo hi', plain, -x, 80]
    args: []
    env: {}
    ports:
      - containerPort: 80
        protocol: TCP
      - {}
  - name: "quoted \\"escape\\" \\\\ \\/"
status:
  podIP: 10.0.0.1
"""
    assert _compare(text) == 1
    value = yamltext._read_fast(text, "f.yaml", 0, 0, {})
    assert value is not None
    labels = value.value["metadata"]["labels"]  # type: ignore[index]
    assert labels == {
        "app": "web", "version": "1.0", "tier": "front'end", "enabled": True, "count": 15,
        "hex": 31, "big": 1000, "ratio": 0.5, "nothing": None, "empty": None,
        "date": "2021-01-01",
    }  # fmt: skip
    assert value.locator.line(("spec", "containers", 0, "ports", 1)) == 35


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 80\n",  # tags
        "a: >\n  folded\n",  # folded block scalar
        "a: |+\n  keep\n\n",  # keep chomping
        "a: |2\n   x\n",  # explicit indentation
        "? a\n: b\n",  # complex key
        '"quoted key": 1\n',
        "a: 'two\n  lines'\n",  # multi-line quoted
        "a: plain\n  continued\n",  # multi-line plain
        "a:\n-\n  b: 1\n",  # a dash alone
        "- - nested\n",
        "a: [x, [y]]\n",
        "a: {b: c}\n",
        "a: 1\na: 2\n",  # duplicate key: reported by the exact reader
        "a:\tb\n",  # TABs follow libyaml's rules
        "just a scalar\n",
        "%YAML 1.1\n---\na: 1\n",
        "a: 1\r\nb: 2\r\n",
        "<<: {a: 1}\n",
        'a: "\\x41"\n',  # an escape JSON does not have
    ],
)
def test_other_shapes_are_left_to_libyaml(text: str) -> None:
    [(first_line, chunk), *_] = list(yamltext._split(text))
    assert yamltext._read_fast(chunk, "f.yaml", first_line, 0, {}) is None


def test_invalid_yaml_in_the_fast_shape_is_judged_by_libyaml() -> None:
    # Each line reads as the fast shape, but libyaml rejects the document: it is reported.
    text = "a:\n    b: 1\n  c: 2\n"
    assert yamltext._read_fast(text, "f.yaml", 0, 0, {}) is None
    [error] = load_text(text, "f.yaml").errors
    assert error.source.line == 3


def test_every_yaml_file_of_the_peer_suite_reads_alike(peer_suite: Path) -> None:
    taken = 0
    files = sorted(peer_suite.rglob("*.y*ml")) + sorted(DATA.rglob("*.y*ml"))
    for file in files:
        taken += _compare(file.read_text(encoding="utf-8-sig"))
    assert taken > 2000  # most of the suite takes the fast reader


_WORDS = st.sampled_from(
    [
        "a", "web", "80", "017", "0x1F", "1_000", "0b11", "1.5", ".5", "1e3", "-12", "+12",
        "yes", "No", "off", "ON", "y", "n", "true", "False", "~", "null", "NULL", "Null",
        ".inf", "-.Inf", ".nan", "2021-01-01", "2001-12-14t21:59:43.10-05:00", "1:20",
        "190:20:30", "=", "a b", "a#b", "-x", "x:y", "http://h:80/p", "10.0.0.0/8", "fd00::1",
        "'a'", "'it''s'", "''", '"a"', '""', '"a\\"b"', '"a\\\\b"', '"\\t"', "[]", "{}",
        "[a, 'b', \"c\"]", "[ ]", "[1, 2,]", "a # comment", "'x' # c", "|", "|-",
    ]
)  # fmt: skip
_KEYS = st.sampled_from(["a", "b", "kind", "app.kubernetes.io/name", "k8s-app", "x_1", "80"])


@st.composite
def _documents(draw: st.DrawFn) -> str:
    """Block YAML built of random keys, scalars, lists and maps, indented either way."""
    lines: list[str] = []

    def block(column: int, depth: int, in_list_item: bool = False) -> None:
        count = draw(st.integers(1, 3))
        as_list = draw(st.booleans())
        for i in range(count):
            pad = " " * column
            if as_list:
                item_column = column + 2
                kind = draw(st.sampled_from(["scalar", "map"] if depth < 3 else ["scalar"]))
                if kind == "scalar":
                    word = draw(_WORDS)
                    lines.append(f"{pad}- {word}")
                    if word in ("|", "|-"):
                        lines.extend([f"{pad}  line one", f"{pad}  line two"])
                else:
                    key = draw(_KEYS)
                    lines.append(f"{pad}- {key}: {draw(_WORDS)}")
                    if draw(st.booleans()):
                        lines.append(f"{' ' * item_column}{key}x: {draw(_WORDS)}")
            else:
                key = f"{draw(_KEYS)}{i}"
                if depth < 3 and draw(st.booleans()):
                    lines.append(f"{pad}{key}:")
                    child = column + draw(st.sampled_from([0, 2, 4]))
                    block(child if child > column else column, depth + 1)
                else:
                    word = draw(_WORDS)
                    lines.append(f"{pad}{key}: {word}")
                    if word in ("|", "|-"):
                        lines.extend([f"{pad}  text", "", f"{pad}  more"])
            if draw(st.integers(0, 9)) == 0:
                lines.append(f"{pad}# a comment")

    block(0, 0)
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_random_block_documents_read_alike(text: str) -> None:
    _compare(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _documents(),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from([" ", "\t", "#", ":", "-", "'", '"'])),
        max_size=3,
    ),
)
def test_random_near_misses_read_alike(text: str, edits: list[tuple[int, str]]) -> None:
    for at, char in edits:
        at %= len(text)
        text = text[:at] + char + text[at:]
    _compare(text)


def test_plain_value_resolves_as_the_composed_reader() -> None:
    for text in ["yes", "017", "0x1F", "1e3", "1.5e3", "~", "2021-01-01", "=", "<<", "1:20"]:
        composed = yamltext.to_value(yaml.compose(f"- {text}", yaml.SafeLoader), {})[0]
        assert _same(yamlfast.plain_value(text), composed), text
    assert yamlfast.plain_value("017") == 15  # YAML 1.1 octal, as go-yaml reads it
    assert yamlfast.plain_value("1e3") == "1e3"  # no dot: a string in YAML 1.1


def test_deep_nesting_is_left_to_the_exact_reader() -> None:
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(yamlfast.MAX_DEPTH + 1))
    assert yamltext._read_fast(deep, "f.yaml", 0, 0, {}) is None
    shallow = "".join(f"{'  ' * i}k{i}:\n" for i in range(yamlfast.MAX_DEPTH - 1))
    assert yamltext._read_fast(shallow, "f.yaml", 0, 0, {}) is not None
    [error] = load_text("kind: Pod\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(800))).errors
    assert "nesting too deep" in error.message
