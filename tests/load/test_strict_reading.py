"""Read as kubectl reads: duplicate keys and TAB indentation are located errors.

kubectl decodes manifests with sigs.k8s.io/yaml in strict mode (go-yaml, a port of libyaml):
a mapping key written twice fails the whole document ("key ... already set in map"), and a
TAB that indents a block line fails with "found character that cannot start any token".
"""

from __future__ import annotations

import io
import textwrap

import pytest

from netpolicy.load import load_manifests, load_text

from ._helpers import of

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels:
    app: web
"""


def test_two_files_run_together_are_rejected_and_both_objects_named() -> None:
    # `cat a.yaml b.yaml` where a.yaml has no trailing `---`: one mapping, keys repeated.
    stdin = io.StringIO(NAMESPACE + POD + "---\n" + POD.replace("web-1", "web-2"))
    result = load_manifests(["-"], stdin=stdin)
    [error] = of(result, "error")
    assert str(error) == (
        '<stdin>:5: error: duplicate key "apiVersion" (first at line 1; also "kind", '
        '"metadata"): 2 objects run together without a "---" line between them; kubectl '
        "rejects a document with a duplicate key, so none of them is loaded: "
        "Namespace shop (line 1), Pod shop/web-1 (line 5) (apiVersion)"
    )
    assert error.code == "duplicate-key"
    # The document is rejected (no silent merge); the next document still loads.
    assert [p.key for p in result.cluster.pods] == ["shop/web-2"]
    assert [ns.name for ns in result.cluster.namespaces if ns.declared] == []


def test_nested_duplicate_key_is_located_with_its_field_path() -> None:
    result = load_text(POD + "    app: other\n", "pod.yaml")
    [error] = of(result, "error")
    assert error.source.line == 8
    assert error.source.path == "metadata.labels.app"
    assert error.message == (
        'duplicate key "app" (first at line 7): kubectl rejects a document with a duplicate '
        "key, so Pod shop/web-1 is not loaded"
    )
    assert result.cluster.pods == ()


def test_duplicate_in_a_list_rejects_the_list_and_names_the_item() -> None:
    text = textwrap.dedent(
        """\
        kind: List
        items:
        - kind: Pod
          metadata: {name: a}
        - kind: Pod
          metadata: {name: b, namespace: x, name: c}
        """
    )
    [error] = of(load_text(text, "list.yaml"), "error")
    assert error.source.line == 6
    assert error.source.path == "items[1].metadata.name"
    assert error.message.endswith("none of its 2 objects is loaded (the key is in Pod x/c)")


def test_each_mapping_with_duplicates_is_one_error() -> None:
    text = "kind: Pod\nmetadata:\n  name: a\n  name: b\n  labels: {x: '1', x: '2'}\nkind: Pod\n"
    errors = of(load_text(text, "p.yaml"), "error")
    assert [(e.source.line, e.source.path) for e in errors] == [
        (4, "metadata.name"),
        (5, "metadata.labels.x"),
        (6, "kind"),
    ]


def test_merge_keys_are_not_duplicates() -> None:
    text = "kind: Pod\nmetadata:\n  name: a\n  labels:\n    <<: {app: x}\n    app: y\n"
    result = load_text(text, "p.yaml")
    assert not of(result, "error")
    assert result.cluster.pods[0].labels == (("app", "y"),)


@pytest.mark.parametrize(
    ("text", "line", "path", "lost"),
    [
        (
            '{"kind": "Pod",\n "metadata": {"name": "a",\n "name": "b"}}',
            3,
            "metadata.name",
            "so Pod b is not loaded",
        ),
        (
            '[{"kind": "Pod", "metadata": {"name": "a"}},\n'
            ' {"kind": "Pod", "kind": "Pod", "metadata": {"name": "b"}}]',
            2,
            "[1].kind",
            "none of its 2 objects is loaded (the key is in Pod b)",
        ),
        (
            '{"kind": "PodList", "items": [\n {"metadata": {"name": "a", "labels":\n'
            ' {"app": "x", "app": "y"}}}]}',
            3,
            "items[0].metadata.labels.app",
            "none of its 1 objects is loaded",
        ),
    ],
)
def test_duplicate_keys_in_json_are_errors_too(text: str, line: int, path: str, lost: str) -> None:
    result = load_text(text, "x.json")
    [error] = of(result, "error")
    assert (error.source.line, error.source.path) == (line, path)
    assert lost in error.message
    assert result.cluster.pods == ()


def test_json_without_duplicates_loads_as_before() -> None:
    result = load_text('{"kind": "Pod", "metadata": {"name": "a", "labels": {"a": "1"}}}', "x.json")
    assert not of(result, "error")
    assert [p.key for p in result.cluster.pods] == ["default/a"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("kind: Pod\nmetadata:\n\tname: x\n", 3),  # a TAB indents a key
        ("kind: Pod\nmetadata:\n  name: x\n  labels:\n  \tapp: web\n", 5),  # after spaces
        ("kind: Pod\nspec:\n  containers:\n  -\tname: c\n", 4),  # after a block `-`
        ("kind: Pod\nmetadata:\n  name: x\n\t\n  namespace: y\n", 4),  # a TAB-only line
    ],
)
def test_tab_in_indentation_is_an_error_at_its_line(text: str, line: int) -> None:
    result = load_text(text, "tab.yaml")
    [error] = of(result, "error")
    assert error.source.line == line
    assert "TAB" in error.message
    assert result.cluster.pods == ()


@pytest.mark.parametrize(
    "text",
    [
        "kind: Pod\nmetadata:\n  name:\tx\n",  # between a key's `:` and its value
        "kind: Pod\nmetadata: {name: x,\n\tnamespace: y}\n",  # inside a flow mapping
        "kind: Pod\nmetadata:\n  name: x\t\n",  # trailing
        "kind: Pod\nmetadata:\n  name: x\t# comment\n",
        "kind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - args: [\n\t'a']\n",
    ],
)
def test_tabs_where_go_yaml_accepts_them_load(text: str) -> None:
    result = load_text(text, "tab.yaml")
    assert not of(result, "error")
    assert [p.name for p in result.cluster.pods] == ["x"]
