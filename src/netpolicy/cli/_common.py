"""What every command shares: the consoles, the PATH argument, failing, loading input."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from netpolicy import api
from netpolicy.semantics import HostNetworkMode

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A rich Console made on first use: a run that only writes JSON never imports rich."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            # No markup: pod names, paths and messages are user text (`[x]` prints as written).
            self._console = Console(
                stderr=self._stderr, highlight=False, soft_wrap=True, markup=False
            )
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out = LazyConsole(stderr=False)
err = LazyConsole(stderr=True)

Paths = Annotated[
    list[str] | None,
    typer.Argument(
        help="Manifest files or directories (.yaml, .yml, .json); - for stdin. "
        "None: the embedded demo cluster."
    ),
]


HostNetwork = Annotated[
    str,
    typer.Option(
        "--host-network",
        help="Host-network pods (the docs allow both): node = their traffic is the node's, "
        "selectors ignore them (most plugins); pod = policies apply as to any pod.",
    ),
]


def host_network_mode(value: str) -> HostNetworkMode:
    if value not in ("node", "pod"):
        fail(f"--host-network must be node or pod, not {value!r}")
    return value  # type: ignore[return-value]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"netpolicy: {message}", style="bold red")
    raise typer.Exit(code)


def load(paths: list[str] | None, purpose: str = "analyze") -> api.Input:
    """The input (or the demo), its diagnostics on stderr; exit 2 when nothing is usable."""
    data = api.load_input(paths or [], stdin=sys.stdin)
    shown = [d for d in data.diagnostics if d.severity != "info"]
    if shown:
        from netpolicy.render.text import render_diagnostics

        render_diagnostics(err.console, shown)
    if data.is_empty and not data.demo:
        fail(
            f"no readable input: nothing to {purpose}"
            if data.has_errors
            else "the input holds no namespaces, pods, workloads or NetworkPolicies"
        )
    return data
