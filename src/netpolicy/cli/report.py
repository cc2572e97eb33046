"""`netpolicy report`: the interactive HTML report, one self-contained file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from netpolicy import api
from netpolicy.cli._common import (
    HostNetwork,
    Paths,
    err,
    fail,
    host_network_mode,
    load,
    write_chunks,
)


def report_command(
    paths: Paths = None,
    output: Annotated[
        str,
        typer.Option("-o", "--output", help="The HTML file to write (- for stdout)."),
    ] = "report.html",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the output file if it exists.")
    ] = False,
    title: Annotated[str, typer.Option("--title", help="The page's title.")] = "netpolicy report",
    host_network: HostNetwork = "node",
) -> None:
    """One self-contained HTML page: the graph of allowed connections (grouped by namespace,
    expandable), a namespace matrix, explanations, lint findings, coverage and exposure."""
    from netpolicy.render.report import render_report

    mode = host_network_mode(host_network)
    target = None if output == "-" else Path(output)
    if target is not None and target.exists() and not force:
        fail(f"{output} exists: choose another -o FILE, or --force to overwrite it")
    started = time.perf_counter()
    data = load(paths, purpose="report")
    report = api.report(data.cluster, description=data.description, host_network=mode)
    if report.warnings:
        from netpolicy.render.text import render_diagnostics

        render_diagnostics(err.console, report.warnings)
    chunks = render_report(report, title)
    if target is None:
        write_chunks(chunks)
        return
    try:
        # "x" refuses a file that appeared meanwhile; "w" only with --force
        stream = target.open("w" if force else "x", encoding="utf-8")
    except FileExistsError:
        fail(f"{output} exists: choose another -o FILE, or --force to overwrite it")
    except OSError as e:
        fail(f"cannot write {output}: {e.strerror or e}")
    try:
        with stream:
            write_chunks(chunks, stream)
    except BaseException:
        target.unlink(missing_ok=True)  # never leave half a page behind
        raise
    size = target.stat().st_size
    err.print(
        f"wrote {output} ({size / 1e6:.1f} MB, {report.counts['workloads']} workloads, "
        f"{report.connection_count()} allowed connections) in "
        f"{time.perf_counter() - started:.1f} s: open it in a browser",
        style="dim",
    )
