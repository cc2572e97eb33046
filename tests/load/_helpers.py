"""Helpers shared by the loader tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from netpolicy.load import LoadResult, load_text
from netpolicy.model import Diagnostic

DATA = Path(__file__).parent / "data"


def load(text: str, filename: str = "t.yaml") -> LoadResult:
    return load_text(textwrap.dedent(text), filename)


def policy_text(spec: str, *, name: str = "p", namespace: str = "ns") -> str:
    """A NetworkPolicy manifest around a spec given as YAML (dedented); spec starts on line 5."""
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return (
        "apiVersion: networking.k8s.io/v1\n"
        "kind: NetworkPolicy\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\n"
        "spec:\n"
        f"{body}\n"
    )


def load_policy(spec: str) -> LoadResult:
    return load_text(policy_text(spec), "p.yaml")


def of(result: LoadResult, severity: str) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.severity == severity]
