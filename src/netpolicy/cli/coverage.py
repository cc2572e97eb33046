"""`netpolicy coverage`: the adoption dashboard, as text, JSON or markdown."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from netpolicy import api
from netpolicy.cli._common import (
    HostNetwork,
    Paths,
    fail,
    host_network_mode,
    load,
    out,
    write_chunks,
)
from netpolicy.render.formats import COVERAGE as FORMATS
from netpolicy.render.formats import COVERAGE_TOP as TOP

ALIASES = {"txt": "text"}
"""Other commands call their text output `txt`; coverage accepts that spelling too."""


def coverage_command(
    paths: Paths = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help=f"One of {', '.join(FORMATS)}.")
    ] = "text",
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            help=f"How many workloads 'do next' lists; 0 for all. Default: {TOP} in text and "
            "md, all in json.",
            show_default=False,
        ),
    ] = None,
    profile: Annotated[
        bool, typer.Option("--profile", help="Print where the time went (stderr).")
    ] = False,
    host_network: HostNetwork = "node",
) -> None:
    """The adoption dashboard: isolation and adoption step per namespace, what to do next.

    Per namespace: workloads isolated for ingress, egress, both, neither; the step reached
    (no policies, ingress default deny, ingress allows in place, egress with DNS). Then the
    workloads reachable from every pod or from outside, most reachable first. With
    --host-network node, host-network workloads are left out (no policy isolates them).
    Exits 0, or 2 for bad usage or unreadable input.
    """
    fmt = ALIASES.get(output, output)
    if fmt not in FORMATS:
        fail(f"{output} output format is not supported for coverage ({', '.join(FORMATS)})")
    if top is not None and top < 0:
        fail("--top must be 0 (all) or more")
    mode = host_network_mode(host_network)
    limit: int | None = top or None  # 0: all
    if top is None:
        limit = None if fmt == "json" else TOP
    timings = api.Timings()
    started = time.perf_counter()
    data = load(paths, "measure")
    timings.add("load", started)
    result = api.coverage(data.cluster, mode, timings=timings)
    started = time.perf_counter()
    if fmt == "text":
        from netpolicy.render.coverage import render_coverage_text

        render_coverage_text(out.console, result, data.description, data.demo, limit)
    else:
        from netpolicy.render.coverage import coverage_json_chunks, render_coverage_md

        chunks = (
            coverage_json_chunks(result, limit)
            if fmt == "json"
            else iter([render_coverage_md(result, limit)])
        )
        write_chunks(chunks)
    timings.add("render", started)
    if profile:
        parts = " · ".join(f"{k} {v:.3f}s" for k, v in timings.phases.items())
        sys.stderr.write(f"profile: {parts} · total {sum(timings.phases.values()):.3f}s\n")
