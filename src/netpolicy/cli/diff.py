"""`netpolicy diff OLD NEW` (or `--base REV [PATH...]`): what a change allows and cuts."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from netpolicy import api
from netpolicy.cli._common import (
    HostNetwork,
    cluster_options_given,
    err,
    fail,
    host_network_mode,
    load_cluster,
    write_chunks,
)
from netpolicy.load import gc_paused
from netpolicy.render.formats import DIFF as FORMATS

Inputs = Annotated[
    list[str] | None,
    typer.Argument(
        help="OLD NEW: two manifest files or directories (- for stdin on one side). "
        "With --base: the PATHs to compare (default: the current directory). "
        "With --cluster: NEW alone (the cluster is OLD).",
        show_default=False,
    ),
]


def _show(data: api.Input) -> None:
    shown = [d for d in data.diagnostics if d.severity != "info"]
    if shown:
        from netpolicy.render.text import render_diagnostics

        render_diagnostics(err.console, shown)


def _side(data: api.Input, role: str) -> api.Input:
    """The diagnostics of one side on stderr; exit 2 when it gave nothing readable (an
    input that is readable and empty is a valid side: everything is added or removed)."""
    _show(data)
    if data.is_empty and data.has_errors:
        fail(f"no readable input for {role} ({data.description})")
    return data


def _inputs(paths: list[str], base: str | None) -> tuple[api.Input, api.Input]:
    options = cluster_options_given()
    if options.live:
        if base is not None or len(paths) != 1:
            fail("with a cluster, diff takes one PATH: the cluster is OLD, PATH is NEW")
        old = _side(load_cluster(options), "OLD (the cluster)")
        return old, _side(api.load_input(paths, sys.stdin), "NEW")
    if options.namespace is not None or options.all_namespaces:
        fail("-n and --all-namespaces choose what is read from a cluster: add --cluster")
    if base is not None:
        paths = paths or ["."]
        if "-" in paths:
            fail("--base compares paths of the working tree; - (stdin) has no revision")
        try:
            old = api.load_revision(base, paths)
        except api.RevisionError as e:
            fail(f"--base {base}: {e}")
        return _side(old, f"--base {base}"), _side(api.load_input(paths, sys.stdin), "NEW")
    if len(paths) != 2:
        fail(
            f"diff takes OLD and NEW (got {len(paths)} path{'' if len(paths) == 1 else 's'}); "
            "or --base REV [PATH...] to compare with a git revision"
        )
    if paths == ["-", "-"]:
        fail("only one side can be read from stdin (-)")
    old = _side(api.load_input(paths[:1], sys.stdin), "OLD")
    return old, _side(api.load_input(paths[1:], sys.stdin), "NEW")


def diff_command(
    paths: Inputs = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="REV",
            help="Compare the PATHs at this git revision (read with git) with the working "
            "tree: for CI on pull requests.",
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help=f"One of {', '.join(FORMATS)}.")
    ] = "txt",
    workloads: Annotated[
        bool | None,
        typer.Option(
            "--workloads/--pods",
            help="Aggregate pods to their owning workloads, or list every pod. "
            f"Default: workloads when either side has more than {api.AUTO_WORKLOADS} pods.",
            show_default=False,
        ),
    ] = None,
    fail_on_removed: Annotated[
        bool,
        typer.Option(
            "--fail-on-removed",
            help="Exit 1 when a change removes a previously allowed port.",
        ),
    ] = False,
    profile: Annotated[
        bool, typer.Option("--profile", help="Print where the time went (stderr).")
    ] = False,
    host_network: HostNetwork = "node",
) -> None:
    """What changes between two inputs: every pair whose allowed ports differ.

    The txt view opens with a summary: pods that become isolated (per direction) and the
    traffic they lose, new exposure, counts of added, removed and changed pairs. Outside
    ranges are cut by the ipBlocks of both inputs. Exits 1 with --fail-on-removed when a
    change removes a previously allowed port, 0 otherwise, 2 for bad usage or unreadable
    input.
    """
    mode = host_network_mode(host_network)
    if output not in FORMATS:
        fail(f"{output} output format is not supported for diff ({', '.join(FORMATS)})")
    timings = api.Timings()
    started = time.perf_counter()
    old, new = _inputs(paths or [], base)
    started = timings.add("load", started)
    with gc_paused():
        result = api.diff(old.cluster, new.cluster, workloads=workloads, host_network=mode)
        started = timings.add("analyze", started)
        summary = None
        if output in ("txt", "md"):
            summary = result.summary()
            started = timings.add("summary", started)
        title = f"{old.description} -> {new.description}"
        from netpolicy.render.diff import diff_chunks

        write_chunks(diff_chunks(result, output, summary, title))
        timings.add("rows and render", started)
    if profile:
        parts = " · ".join(f"{k} {v:.3f}s" for k, v in timings.phases.items())
        sys.stderr.write(f"profile: {parts} · total {sum(timings.phases.values()):.3f}s\n")
    if fail_on_removed and result.removes_ports:
        raise typer.Exit(1)
