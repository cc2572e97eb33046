"""`netpolicy blast-radius`: what a compromised pod or workload reaches, or the ranking."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from netpolicy import api
from netpolicy.cli._common import HostNetwork, fail, host_network_mode, load, write_chunks
from netpolicy.load import gc_paused
from netpolicy.render.formats import BLAST as FORMATS


def blast_command(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[SRC] [PATH]...",
            help="SRC (ns/name: a pod or workload) then manifest files or directories; with "
            "--top only the manifests. None: the embedded demo cluster.",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            help="Rank workloads by how many others reach them and how many they reach "
            "(N each; 0 for all) instead of one SRC.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help=f"One of {', '.join(FORMATS)}.")
    ] = "txt",
    workloads: Annotated[
        bool | None,
        typer.Option(
            "--workloads/--pods",
            help="Name targets by their workloads, or list every pod. "
            f"Default: workloads above {api.AUTO_WORKLOADS} pods, pods otherwise.",
            show_default=False,
        ),
    ] = None,
    max_hops: Annotated[
        int | None,
        typer.Option("--max-hops", help="Follow at most this many connections.", min=1),
    ] = None,
    profile: Annotated[
        bool, typer.Option("--profile", help="Print where the time went (stderr).")
    ] = False,
    host_network: HostNetwork = "node",
) -> None:
    """What a compromised SRC reaches, directly and through what it reaches (any allowed
    port): hop counts, one example path per target, counts per namespace. With --top N:
    the workloads most reachable and those reaching most. Exits 0, or 2 for bad usage."""
    from netpolicy.analysis.endpoints import EndpointError

    if output not in FORMATS:
        fail(f"{output} output format is not supported for blast-radius ({', '.join(FORMATS)})")
    if top is not None and top < 0:
        fail("--top must be 0 (all) or more")
    mode = host_network_mode(host_network)
    rest = list(args or [])
    source: str | None = None
    if top is not None and rest and rest[0] != "-" and not Path(rest[0]).exists():
        fail(f"--top ranks every workload: give only manifests, not {rest[0]!r}")
    if top is None:
        if not rest:
            fail("give SRC (ns/name of a pod or workload), or --top N for the ranking")
        source, rest = rest[0], rest[1:]
    timings = api.Timings()
    started = time.perf_counter()
    data = load(rest, "analyze")
    started = timings.add("load", started)
    with gc_paused():
        if source is None:
            ranking = api.blast_ranking(data.cluster, host_network=mode, timings=timings)
            started = time.perf_counter()
            from netpolicy.render.blast import ranking_chunks

            write_chunks(ranking_chunks(ranking, output, top or None))
        else:
            try:
                result = api.blast_radius(
                    data.cluster,
                    source,
                    workloads=workloads,
                    max_hops=max_hops,
                    host_network=mode,
                    timings=timings,
                )
            except EndpointError as e:
                fail(str(e))
            started = time.perf_counter()
            from netpolicy.render.blast import blast_chunks

            write_chunks(blast_chunks(result, output))
    timings.add("render", started)
    if profile:
        parts = " · ".join(f"{k} {v:.3f}s" for k, v in timings.phases.items())
        sys.stderr.write(f"profile: {parts} · total {sum(timings.phases.values()):.3f}s\n")
