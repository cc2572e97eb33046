"""Imports only point down: cli -> render/analysis/enforce/lab -> semantics -> model."""

from __future__ import annotations

import ast
from pathlib import Path

import netpolicy

SRC = Path(netpolicy.__file__).parent
ALLOWED = {
    "model": set(),
    "semantics": {"model"},
    "load": {"model"},
    "analysis": {"model", "semantics"},
    "render": {"model", "semantics", "analysis", "generate"},
    "generate": {"model", "semantics", "analysis"},
    "enforce": {"model", "semantics", "analysis"},
    "lab": {"model", "semantics", "analysis", "enforce", "load"},
    "demo": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "netpolicy" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_imports_point_down():
    wrong = []
    for layer, allowed in ALLOWED.items():
        for path in (SRC / layer).rglob("*.py"):
            for target in _imports(path) - allowed - {layer}:
                wrong.append(f"{path.relative_to(SRC)} imports netpolicy.{target}")
    assert not wrong, "\n".join(wrong)


def test_semantics_all_is_complete():
    import netpolicy.semantics as sem

    public = {n for n in dir(sem) if not n.startswith("_") and n[0].isupper()}
    public -= {n for n in public if getattr(getattr(sem, n), "__module__", "").startswith("typing")}
    assert public <= set(sem.__all__)
