"""What every command shares: the consoles, the PATH argument, failing, loading input."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from netpolicy import api
from netpolicy.render.text import render_diagnostics

# No markup: pod names, paths and messages are user text (`[x]` must print as written).
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

Paths = Annotated[
    list[str] | None,
    typer.Argument(
        help="Manifest files or directories (.yaml, .yml, .json); - for stdin. "
        "None: the embedded demo cluster."
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"netpolicy: {message}", style="bold red")
    raise typer.Exit(code)


def load(paths: list[str] | None, purpose: str = "analyze") -> api.Input:
    """The input (or the demo), its diagnostics on stderr; exit 2 when nothing is usable."""
    data = api.load_input(paths or [], stdin=sys.stdin)
    render_diagnostics(err, [d for d in data.diagnostics if d.severity != "info"])
    if data.is_empty and not data.demo:
        fail(
            f"no readable input: nothing to {purpose}"
            if data.has_errors
            else "the input holds no namespaces, pods, workloads or NetworkPolicies"
        )
    return data
