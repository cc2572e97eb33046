"""The public surface of `netpolicy.load` and its place in the layering."""

from __future__ import annotations

import ast
from pathlib import Path

import netpolicy.load
from netpolicy.load import LoadResult, load_text

LOAD_DIR = Path(netpolicy.load.__file__).parent


def test_all_is_complete() -> None:
    public = {n for n in vars(netpolicy.load) if not n.startswith("_")}
    modules = {p.stem for p in LOAD_DIR.glob("*.py")}
    assert set(netpolicy.load.__all__) == public - modules - {"annotations"}


def test_load_imports_only_the_model() -> None:
    for path in LOAD_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("netpolicy"):
                    assert name == "netpolicy.model", (path.name, name)


def test_load_text_returns_a_result_with_errors_view() -> None:
    result = load_text("kind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: []}\n")
    assert isinstance(result, LoadResult)
    assert [e.source.path for e in result.errors] == ["spec.podSelector"]
