"""What every command shares: the consoles, the PATH argument, failing, loading input."""

from __future__ import annotations

import functools
import gc
import inspect
import io
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from netpolicy import api
from netpolicy.semantics import HostNetworkMode

if TYPE_CHECKING:
    from rich.console import Console

    from netpolicy.load.live import LiveSource, Progress, Resource


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


class OutputError(Exception):
    """A write to stdout failed for another reason than a closed pipe (a full disk)."""


class GuardedStdout:
    """stdout as the commands that print through rich or `print` see it: a failed write or
    flush raises OutputError, which the entry point reports as what it is ("cannot write the
    output", exit 2) instead of as an internal error. A closed pipe stays BrokenPipeError,
    which ends quietly as before. Everything else is the stream's own."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with _told_apart():
            return self._stream.write(text)

    def flush(self) -> None:
        with _told_apart():
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _told_apart() -> Iterator[None]:
    """A failed write as OutputError; a closed pipe left as it is."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise OutputError(e.strerror or str(e)) from e


def output_failed(error: OutputError) -> NoReturn:
    """The end of a command whose output could not be written: said plainly, exit 2."""
    _silence(None)
    err.print(f"netpolicy: cannot write the output: {error}", style="bold red")
    raise SystemExit(2)


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
    full disk) is a clear message and exit 2, never a silently shortened output. A long
    output is written from a second thread while the next chunks are made (see `_Writer`).
    """
    writer: _Writer | None = None
    try:
        if stream is None:
            sys.stdout.flush()
            stream = sys.stdout.buffer
            _widen_pipe(stream)
        binary = not isinstance(stream, io.TextIOBase | GuardedStdout)
        writer = _Writer(stream)
        for chunk in chunks:
            if binary:
                # bytes are cut through a memoryview: no copy of a large chunk
                writer.put(memoryview(chunk if isinstance(chunk, bytes) else chunk.encode()))
            else:
                writer.put(chunk.decode() if isinstance(chunk, bytes) else chunk)
        writer.close()
    except BrokenPipeError:
        closed_pipe(closed_pipe_exit, stream)
    except OSError as e:
        _silence(stream)
        fail(f"cannot write the output: {e.strerror or e}")
    finally:
        if writer is not None:  # on the way out with an error (or ^C): do not wait for it
            writer.abandon()


THREADED_AFTER = 16 * CHUNK
"""Units written in the caller's thread before a writer thread takes over."""


class _Writer:
    """Writes what it is handed, in order, in writes of at most CHUNK units.

    The first THREADED_AFTER units go out from the caller's thread, so a short answer never
    starts a thread. After that a thread writes while the caller makes the next chunks: the
    write (the kernel's copy into a pipe or file) releases the GIL, so making and writing
    overlap on two cores. At most QUEUED chunks wait; the first write error is raised in the
    caller at its next `put` or at `close`.
    """

    QUEUED = 4

    def __init__(self, stream: IO[Any]) -> None:
        self.stream = stream
        self.written = 0
        self.queue: queue.Queue[str | memoryview | None] | None = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.abandoned = False

    def put(self, data: str | memoryview) -> None:
        if self.queue is None:
            self._write(data)
            self.written += len(data)
            if self.written > THREADED_AFTER:
                self.queue = queue.Queue(self.QUEUED)
                # a daemon: a write blocked on a reader that stopped reading must not keep
                # the process alive after ^C
                self.thread = threading.Thread(
                    target=self._drain, name="netpolicy-writer", daemon=True
                )
                self.thread.start()
            return
        self._raise()
        self.queue.put(data)

    def close(self) -> None:
        """Wait for everything handed over to be written, then flush."""
        if self.thread is not None and self.queue is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        self._raise()
        self.stream.flush()

    def abandon(self) -> None:
        """Tell the thread (if still running) to drop what it holds and end, without waiting."""
        if self.thread is not None and self.queue is not None:
            self.abandoned = True
            with suppress(queue.Full):
                self.queue.put_nowait(None)

    def _write(self, data: str | memoryview) -> None:
        for start in range(0, len(data), CHUNK):
            self.stream.write(data[start : start + CHUNK])

    def _drain(self) -> None:
        assert self.queue is not None
        while (data := self.queue.get()) is not None:
            if self.error is None and not self.abandoned:  # else only empty the queue
                try:
                    self._write(data)
                except BaseException as e:  # handed to the caller
                    self.error = e

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


F_SETPIPE_SZ = 1031
"""fcntl command (Linux) that sets a pipe's buffer size."""


def _widen_pipe(stream: IO[Any]) -> None:
    """A 1 MiB pipe buffer instead of 64 KiB: a quarter fewer context switches per gigabyte
    when stdout is a pipe (measured 2.8 -> 3.6 GB/s). Anything else is left as it is."""
    try:
        import fcntl
        import stat

        fd = stream.fileno()
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
    except (OSError, ValueError, AttributeError, ImportError):
        pass


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"netpolicy: {message}", style="bold red")
    raise typer.Exit(code)


def load(paths: list[str] | None, purpose: str = "analyze") -> api.Input:
    """The input (files, a live cluster, or the demo), its diagnostics on stderr; exit 2 when
    nothing is usable. A command decorated with `cluster_options` reads a live cluster when
    given --cluster, --kubeconfig or --context."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        data = _read(paths)
    finally:
        if collecting:
            if settle_loaded_input:
                # the input lives until the process ends: out of every later collection's
                # way (each would walk all of it again)
                gc.freeze()
            gc.enable()
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


settle_loaded_input = False
"""Set by the command-line entry point (a process that ends with its command): `load`
freezes what it loaded out of the cyclic GC's reach. Left off for in-process callers (tests),
whose memory would otherwise keep whatever cycles were alive then."""


def _read(paths: list[str] | None) -> api.Input:
    options = cluster_options_given()
    if options.live:
        if paths:
            fail(
                "give manifests (PATH...) or a cluster (--cluster, --kubeconfig, --context), "
                "not both"
            )
        data = load_cluster(options)
    else:
        if options.namespace is not None and not options.namespace_filters:
            fail(f"-n {options.namespace} reads one namespace of a cluster: add --cluster")
        if options.all_namespaces:
            fail("--all-namespaces reads every namespace of a cluster: add --cluster")
        data = api.load_input(paths or [], stdin=sys.stdin)
    return data


# --- live clusters: the options every read-only command shares --------------------------

PARTIAL = 3
"""Exit status of a command whose cluster was read only in part (the API server forbade a
kind): the output is complete for what was readable, a warning says what is missing. A
command's own non-zero status (1: denied, a lint finding) is kept instead."""

_RUN: ContextVar[_Run | None] = ContextVar("netpolicy_cluster_run", default=None)
_PANEL = "Live cluster"


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """Which cluster a command reads, from --cluster, --kubeconfig, --context, -n and
    --all-namespaces. `namespace_filters`: the command's own `-n` also filters its output
    (connlist), so `-n` without a cluster is still meaningful there."""

    cluster: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    namespace_filters: bool = False

    @property
    def live(self) -> bool:
        return self.cluster or self.kubeconfig is not None or self.context is not None

    def source(self) -> LiveSource:
        from netpolicy.load.live import LiveSource

        if self.namespace is not None and self.all_namespaces:
            fail("-n/--namespace and --all-namespaces exclude each other")
        return LiveSource(self.kubeconfig, self.context, self.namespace)


@dataclass(slots=True)
class _Run:
    """The cluster options of the command running now, and whether its input is partial."""

    options: ClusterOptions
    partial: bool = False


_CLUSTER_PARAMETERS = (
    (
        "cluster",
        Annotated[
            bool,
            typer.Option(
                "--cluster",
                help="Read the cluster of the current kubeconfig context instead of files.",
                rich_help_panel=_PANEL,
            ),
        ],
        False,
    ),
    (
        "kubeconfig",
        Annotated[
            str | None,
            typer.Option(
                "--kubeconfig",
                metavar="PATH",
                help="Read the cluster through this kubeconfig (default: $KUBECONFIG, else "
                "~/.kube/config).",
                rich_help_panel=_PANEL,
            ),
        ],
        None,
    ),
    (
        "context",
        Annotated[
            str | None,
            typer.Option(
                "--context",
                metavar="NAME",
                help="Read the cluster of this kubeconfig context.",
                rich_help_panel=_PANEL,
            ),
        ],
        None,
    ),
    (
        "namespace",
        Annotated[
            str | None,
            typer.Option(
                "-n",
                "--namespace",
                metavar="NS",
                help="Read only this namespace of the cluster (and every Namespace object): "
                "pods and policies of other namespaces are then unknown.",
                rich_help_panel=_PANEL,
            ),
        ],
        None,
    ),
    (
        "all_namespaces",
        Annotated[
            bool,
            typer.Option(
                "-A",
                "--all-namespaces",
                help="Read every namespace of the cluster (the default).",
                rich_help_panel=_PANEL,
            ),
        ],
        False,
    ),
)


def cluster_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command --cluster, --kubeconfig, --context, -n/--namespace and
    -A/--all-namespaces; `load()` then reads a live cluster when asked to, and the command
    exits `PARTIAL` when the API server forbade some kind. A command keeps a parameter of
    its own with one of these names: its own `namespace` (connlist's filter) then also limits
    what is read; any other (generate's `--cluster PATH`) keeps only its own meaning."""
    signature = inspect.signature(command, eval_str=True)
    own = set(signature.parameters)
    extra = [
        inspect.Parameter(
            name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=kind
        )
        for name, kind, default in _CLUSTER_PARAMETERS
        if name not in own
    ]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        def given(name: str, default: Any) -> Any:
            return default if name in own else kwargs.pop(name, default)

        options = ClusterOptions(
            cluster=given("cluster", False),
            kubeconfig=given("kubeconfig", None),
            context=given("context", None),
            namespace=kwargs["namespace"] if "namespace" in own else kwargs.pop("namespace", None),
            all_namespaces=given("all_namespaces", False),
            namespace_filters="namespace" in own,
        )
        state = _Run(options)
        token = _RUN.set(state)
        try:
            result = command(*args, **kwargs)
        finally:
            _RUN.reset(token)
        if state.partial:
            raise typer.Exit(PARTIAL)
        return result

    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    run.__annotations__ = {
        **{p.name: p.annotation for p in signature.parameters.values()},
        **{p.name: p.annotation for p in extra},
        "return": signature.return_annotation,
    }
    return run


def cluster_options_given() -> ClusterOptions:
    """The cluster options of the running command (none outside a decorated command)."""
    state = _RUN.get()
    return state.options if state is not None else ClusterOptions()


def load_cluster(options: ClusterOptions) -> api.Input:
    """The live cluster with a progress bar per kind on stderr (on a terminal); a clear
    message and exit 2 when it cannot be read; the command is marked partial when the API
    server forbade some kind."""
    from netpolicy.load.live import LiveError

    source = options.source()
    try:
        with progress_bar() as progress:
            data = api.load_cluster(source, progress)
    except LiveError as e:
        fail(str(e))
    if data.missing:
        mark_partial()
    return data


def mark_partial() -> None:
    """The running command read a cluster only in part: it exits `PARTIAL` unless it fails."""
    state = _RUN.get()
    if state is not None:
        state.partial = True


@contextmanager
def progress_bar() -> Iterator[Progress | None]:
    """A transient rich progress bar per kind, only when stderr is a terminal."""
    if not err.console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bar

    tasks: dict[str, Any] = {}
    with Bar(
        TextColumn("{task.description:>22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err.console,
        transient=True,
    ) as bar:

        def update(resource: Resource, read: int, total: int | None, done: bool) -> None:
            task = tasks.get(resource.plural)
            if task is None:
                task = tasks[resource.plural] = bar.add_task(resource.plural, total=total)
            bar.update(task, completed=read, total=total if total is not None else None)

        yield update
