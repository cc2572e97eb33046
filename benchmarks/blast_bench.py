"""Benchmark `netpolicy blast-radius` against `netpolicy connlist` on the same input.

    python benchmarks/blast_bench.py [--size M] [--format json] [--seed 1] [--repeat 5]
                                     [--timeout SECONDS] [--out benchmarks/results/blast.json]

Generates the cluster if it is missing or stale (run.ensure_data), compiles netpolicy's
bytecode (run.precompile), picks two sources from the ranking (computed in this process,
untimed): the workload that reaches the most others (the widest breadth-first search) and the
median one. Then runs, as subprocesses and `--repeat` times each, rotating which goes first so
that the noise of a shared machine hits all alike:

    python -m netpolicy connlist FILE -o json --workloads
    python -m netpolicy blast-radius WIDEST FILE -o json
    python -m netpolicy blast-radius MEDIAN FILE -o json
    python -m netpolicy blast-radius --top 10 FILE -o json

Reported: median wall time and largest peak RSS of each, and the ratio to connlist's median.
The issue's target: on M (10,000 pods), every blast-radius run at most 2x connlist. Prints a
table, writes the numbers to --out, and exits 1 when a run fails or the target is missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
import run  # noqa: E402

console = run.console
TARGET_RATIO = 2.0
TRACEBACK = "Traceback (most recent call last)"


def commands(source: Path, widest: str, median: str) -> dict[str, list[str]]:
    base = [sys.executable, "-m", "netpolicy"]
    return {
        "connlist": [*base, "connlist", str(source), "-o", "json", "--workloads"],
        f"blast-radius {widest}": [*base, "blast-radius", widest, str(source), "-o", "json"],
        f"blast-radius {median}": [*base, "blast-radius", median, str(source), "-o", "json"],
        "blast-radius --top 10": [*base, "blast-radius", "--top", "10", str(source), "-o", "json"],
    }


def pick_sources(source: Path) -> tuple[str, str, dict[str, int]]:
    """The workload reaching the most others and the median one (by transitive reach)."""
    from netpolicy import api

    data = api.load_input([source])
    ranking = api.blast_ranking(data.cluster)
    ordered = ranking.widest_reach()
    widest, median = ordered[0], ordered[len(ordered) // 2]
    counts = {"workloads": len(ordered), "pods": len(data.cluster.pods)}
    counts["widest_reaches"] = widest.reaches
    counts["median_reaches"] = median.reaches
    return widest.name, median.name, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="M")
    parser.add_argument("--format", default="json", choices=("json", "yaml"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "blast.json")
    args = parser.parse_args(argv)

    run.ensure_data(args.size, args.seed)
    run.precompile()
    source = run.DATA / args.size / f"cluster.{args.format}"
    widest, median, counts = pick_sources(source)
    cmds = commands(source, widest, median)
    out_dir = run.DATA / args.size / "out"
    out_dir.mkdir(exist_ok=True)
    names = list(cmds)
    runs: dict[str, list[run.Measurement]] = {name: [] for name in names}
    failed = []
    for i in range(args.repeat):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            console.print(f"[dim]{args.size}: {name}, run {i + 1} of {args.repeat}...[/dim]")
            out = out_dir / f"blast-{names.index(name)}.json"
            m = run.measure(cmds[name], out, args.timeout, env=run.child_env())
            runs[name].append(m)
            if not m.ok or TRACEBACK in m.stderr_tail:
                failed.append(f"{name}: {m.status}\n{m.stderr_tail}")
        if failed:
            break
    base = statistics.median(m.wall_s for m in runs["connlist"])
    rows: list[dict[str, Any]] = []
    for name in names:
        walls = [m.wall_s for m in runs[name]]
        wall = statistics.median(walls)
        rows.append(
            {
                "command": name,
                "wall_s": round(wall, 3),
                "walls_s": walls,
                "peak_rss_mb": max(m.peak_rss_mb for m in runs[name]),
                "ratio": round(wall / base, 2),
            }
        )
    table = Table(title=f"blast-radius vs connlist, size {args.size} ({args.format} input)")
    for col in ("command", "median wall", "peak RSS", "/ connlist"):
        table.add_column(col, justify="left" if col == "command" else "right")
    for r in rows:
        table.add_row(
            r["command"], f"{r['wall_s']:.2f} s", f"{r['peak_rss_mb']:.0f} MB", f"{r['ratio']:.2f}"
        )
    console.print(table)
    console.print(
        f"{counts['pods']} pods, {counts['workloads']} workloads; {widest} reaches "
        f"{counts['widest_reaches']} workloads, {median} {counts['median_reaches']}"
    )
    missed = [r for r in rows[1:] if r["ratio"] > TARGET_RATIO]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "size": args.size,
                "format": args.format,
                "repeat": args.repeat,
                "machine": {"python": platform.python_version(), "cpus": run.os.cpu_count()},
                "counts": counts,
                "rows": rows,
                "target_ratio": TARGET_RATIO,
                "target_met": not missed and not failed,
            },
            indent=2,
        )
        + "\n"
    )
    for f in failed:
        console.print(f"[red]failed: {f}[/red]")
    if missed:
        console.print(f"[red]target missed: {', '.join(r['command'] for r in missed)}[/red]")
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
