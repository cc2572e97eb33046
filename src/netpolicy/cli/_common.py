"""What every command shares: the consoles, the PATH argument, failing, loading input."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn

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

            class _Console(Console):
                def on_broken_pipe(self) -> None:
                    closed_pipe()  # the same quiet end as every other output

            # No markup: pod names, paths and messages are user text (`[x]` prints as written).
            self._console = _Console(
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


CHUNK = 1 << 20
"""The most one write hands to the kernel (one oversized write can be cut short silently)."""
CLOSED_PIPE = 141
"""Exit status when the reader of stdout has gone (`| head`): 128 + SIGPIPE, as tools do."""


def _silence(stream: IO[Any] | None) -> None:
    """Point a failed stream at /dev/null: Python's last flush at exit must not fail loudly
    (or write what the failed write left in the buffer)."""
    try:
        target = stream.fileno() if stream is not None else sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, target)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (in tests): nothing to do
        pass


def closed_pipe(status: int = CLOSED_PIPE, stream: IO[Any] | None = None) -> NoReturn:
    """End quietly with `status`: the reader of stdout (or of `stream`) has gone."""
    # Python flushes stdout again at exit: /dev/null keeps that flush from printing
    # "Exception ignored ... BrokenPipeError".
    _silence(stream)
    raise typer.Exit(status)


def write_chunks(
    chunks: Iterable[str | bytes],
    stream: IO[Any] | None = None,
    *,
    closed_pipe_exit: int = CLOSED_PIPE,
) -> None:
    """Write `chunks` (text or UTF-8 bytes) to stdout (or `stream`, binary or text), never
    more than CHUNK units per write.

    A closed pipe ends the command quietly with `closed_pipe_exit`; any other write error (a
    full disk) is a clear message and exit 2, never a silently shortened output.
    """
    try:
        if stream is None:
            sys.stdout.flush()
            stream = sys.stdout.buffer
        binary = not isinstance(stream, io.TextIOBase)
        for chunk in chunks:
            if binary:
                # bytes are cut through a memoryview: no copy of a large chunk
                data: str | memoryview = memoryview(
                    chunk if isinstance(chunk, bytes) else chunk.encode()
                )
            else:
                data = chunk.decode() if isinstance(chunk, bytes) else chunk
            for start in range(0, len(data), CHUNK):
                stream.write(data[start : start + CHUNK])  # type: ignore[arg-type]
        stream.flush()
    except BrokenPipeError:
        closed_pipe(closed_pipe_exit, stream)
    except OSError as e:
        _silence(stream)
        fail(f"cannot write the output: {e.strerror or e}")


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
