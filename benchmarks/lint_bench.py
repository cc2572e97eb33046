"""Benchmark `netpolicy lint` against `netpolicy connlist` and the textual linter kube-netpol.

    python benchmarks/lint_bench.py [--sizes S,M] [--formats json] [--seed 1] [--repeat 5]
                                    [--peer-timeout 600] [--no-peer] [--timeout SECONDS]
                                    [--out benchmarks/results/lint.json]

For each size: generate the cluster if it is missing or stale (run.ensure_data), compile
netpolicy's bytecode (run.precompile), then run, as subprocesses and `--repeat` times each,

    python -m netpolicy connlist FILE -o json --workloads
    python -m netpolicy lint FILE -o json --fail-on error

alternating the two (and which of them goes first, ABBA) so that the noise of a shared
2-core machine hits both alike. Reported: the median wall time and the largest peak RSS (the
child's own, from wait4) of each, the ratio lint/connlist of the medians, and the findings
per severity and per check (from lint's JSON). lint exiting 0 or 1 is a success (1 only says
that something was found); 2, a traceback or output that is not the JSON report is a failure.

Then, once per size, the peer kube-netpol 1.0.0 (benchmarks/setup_lint_peer.sh installs it in
benchmarks/.kube-netpol-venv) on the same objects:

    kube-netpol scan DIR -f json -o OUT.json

kube-netpol reads only `.yaml`/`.yml` files (a file or a directory, recursively) and does not
unwrap `kind: List`, so the cluster is written for it once as `data/SIZE/kube-netpol/`, one
multi-document YAML file per namespace, from cluster.json (rewritten when cluster.json
changes). One run, limited to `--peer-timeout` seconds; a timeout is recorded as such. Its
wall time is compared with lint's median on JSON input.

The issue's target: on M, lint's median wall time at most 2x connlist's. Prints a table and
writes benchmarks/results/lint.json (or --out). Exit status 1 when a run fails or the M target
is missed (a kube-netpol timeout or failure is recorded, not a failure of the benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402
import run  # noqa: E402

console = run.console
KUBE_NETPOL = HERE / ".kube-netpol-venv" / "bin" / "kube-netpol"
KUBE_NETPOL_VERSION = "1.0.0"
SEVERITIES = ("error", "warning", "info")
TARGET_SIZE = "M"
TARGET_RATIO = 2.0  # lint / connlist, median wall, JSON input
TRACEBACK = "Traceback (most recent call last)"


# ---------------------------------------------------------------- commands


def connlist_command(source: Path) -> list[str]:
    return [sys.executable, "-m", "netpolicy", "connlist", str(source), "-o", "json", "--workloads"]


def lint_command(source: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "netpolicy",
        "lint",
        str(source),
        "-o",
        "json",
        "--fail-on",
        "error",
    ]


def peer_command(folder: Path, out: Path) -> list[str]:
    return [str(KUBE_NETPOL), "scan", str(folder), "-f", "json", "-o", str(out)]


def connlist_ok(m: run.Measurement) -> bool:
    return m.ok and TRACEBACK not in m.stderr_tail


def lint_ok(m: run.Measurement) -> bool:
    """0: nothing at or above --fail-on; 1: something was found. Anything else failed."""
    return not m.timed_out and m.returncode in (0, 1) and TRACEBACK not in m.stderr_tail


def lint_status(m: run.Measurement) -> str:
    if m.timed_out:
        return "timeout"
    if TRACEBACK in m.stderr_tail:
        return f"traceback (exit {m.returncode})"
    return "ok" if lint_ok(m) else f"exit {m.returncode}"


def lint_findings(path: Path) -> dict[str, Any] | None:
    """Findings per severity and per check in `lint -o json` output; None if it is not that."""
    try:
        report = json.loads(path.read_bytes())
        findings = report["findings"]
        severities = Counter(f["severity"] for f in findings)
        checks = Counter(f["check"] for f in findings)
    except (ValueError, KeyError, TypeError):
        return None
    return {
        "total": len(findings),
        "by_severity": {s: severities.get(s, 0) for s in (*SEVERITIES, *sorted(severities))},
        "by_check": dict(checks.most_common()),
    }


# ---------------------------------------------------------------- the peer's input


def _items(source: Path) -> Iterator[dict[str, Any]]:
    """The items of generate.py's cluster.json, one per line, without holding the whole list."""
    with source.open(encoding="utf-8") as f:
        header = f.readline()
        if not header.rstrip().endswith('"items":['):
            f.seek(0)
            yield from json.load(f)["items"]
            return
        for line in f:
            line = line.rstrip().rstrip(",")
            if line and line != "]}":
                yield json.loads(line)


def peer_input(size: str) -> Path:
    """`data/SIZE/kube-netpol/`: one multi-document YAML file per namespace, from cluster.json.

    Written once per cluster.json (a stamp file records its size and mtime); kube-netpol skips
    files whose names start with a dot, so the stamp is not read as a manifest.
    """
    source = run.DATA / size / "cluster.json"
    folder = run.DATA / size / "kube-netpol"
    stat = source.stat()
    stamp = {"source": source.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    stamp_path = folder / ".stamp.json"
    if stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp:
        return folder
    console.print(f"[dim]{size}: writing the cluster as YAML, one file per namespace...[/dim]")
    started = time.perf_counter()
    docs: dict[str, list[str]] = {}
    for obj in _items(source):
        md = obj.get("metadata") or {}
        ns = md.get("name") if obj.get("kind") == "Namespace" else md.get("namespace", "default")
        docs.setdefault(ns or "default", []).append("---\n" + generate._yaml(obj))
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for ns, texts in docs.items():
        (folder / f"{ns}.yaml").write_text("".join(texts), encoding="utf-8")
    stamp_path.write_text(json.dumps(stamp) + "\n")
    console.print(f"[dim]{size}: {len(docs)} files in {time.perf_counter() - started:.1f} s[/dim]")
    return folder


def peer_findings(path: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(path.read_bytes())
        issues = report["issues"]
        return {
            "total": len(issues),
            "by_severity": report["summary"]["issues_by_severity"],
            "by_rule": dict(Counter(i["rule_id"] for i in issues).most_common()),
            "policies": report["summary"]["total_policies"],
            "score": report.get("score"),
            "grade": report.get("grade"),
        }
    except (ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------- runs


def measure_pair(size: str, fmt: str, repeat: int, timeout: float) -> dict[str, Any]:
    """connlist and lint `repeat` times each, alternating (ABBA), on one input file."""
    source = run.DATA / size / f"cluster.{fmt}"
    out_dir = run.DATA / size / "out"
    out_dir.mkdir(exist_ok=True)
    outs = {"connlist": out_dir / f"connlist-{fmt}.json", "lint": out_dir / f"lint-{fmt}.json"}
    commands = {"connlist": connlist_command(source), "lint": lint_command(source)}
    ok = {"connlist": connlist_ok, "lint": lint_ok}
    runs: dict[str, list[run.Measurement]] = {"connlist": [], "lint": []}
    failed: str | None = None
    for i in range(repeat):
        order = ("connlist", "lint") if i % 2 == 0 else ("lint", "connlist")
        for tool in order:
            console.print(f"[dim]{size}/{fmt}: {tool}, run {i + 1} of {repeat}...[/dim]")
            m = run.measure(commands[tool], outs[tool], timeout, env=run.child_env())
            runs[tool].append(m)
            if not ok[tool](m):
                failed = tool
                break
        if failed:
            break
    row: dict[str, Any] = {
        "size": size,
        "format": fmt,
        "input_bytes": source.stat().st_size,
        "connlist_command": commands["connlist"],
        "lint_command": commands["lint"],
        "connlist_status": "ok",
        "lint_status": "ok",
    }
    for tool, ms in runs.items():
        good = all(ok[tool](m) for m in ms) and len(ms) == repeat
        row[f"{tool}_runs_wall_s"] = [m.wall_s for m in ms]
        row[f"{tool}_runs_peak_rss_mb"] = [m.peak_rss_mb for m in ms]
        row[f"{tool}_wall_s"] = statistics.median(m.wall_s for m in ms) if good else None
        row[f"{tool}_peak_rss_mb"] = max((m.peak_rss_mb for m in ms), default=None)
    row["lint_exit_codes"] = sorted({m.returncode for m in runs["lint"]}, key=str)
    if failed:
        m = runs[failed][-1]
        row[f"{failed}_status"] = lint_status(m) if failed == "lint" else m.status
        console.print(f"[yellow]{size}/{fmt}: {failed} {row[f'{failed}_status']}[/yellow]")
        console.print(m.stderr_tail)
        return row
    findings = lint_findings(outs["lint"])
    if findings is None:
        row["lint_status"] = "output is not a lint JSON report"
        row["lint_wall_s"] = None
        console.print(f"[yellow]{size}/{fmt}: lint output is not a JSON report[/yellow]")
        return row
    row["findings"] = findings
    row["ratio"] = round(row["lint_wall_s"] / row["connlist_wall_s"], 2)
    return row


def run_peer(size: str, timeout: float) -> dict[str, Any]:
    folder = peer_input(size)
    out_dir = run.DATA / size / "out"
    out_dir.mkdir(exist_ok=True)
    report = out_dir / "kube-netpol.json"
    report.unlink(missing_ok=True)
    cmd = peer_command(folder, report)
    console.print(f"[dim]{size}: kube-netpol scan (limit {timeout:g} s)...[/dim]")
    m = run.measure(cmd, out_dir / "kube-netpol.stdout", timeout)
    row: dict[str, Any] = {
        "peer_command": cmd,
        "peer_input_files": len(list(folder.glob("*.yaml"))),
        "peer_input_bytes": sum(p.stat().st_size for p in folder.glob("*.yaml")),
        "peer_wall_s": m.wall_s,
        "peer_peak_rss_mb": m.peak_rss_mb,
        "peer_status": m.status,
    }
    if m.ok:
        found = peer_findings(report)
        if found is None:
            row["peer_status"] = "no JSON report"
        else:
            row["peer_findings"] = found
    if row["peer_status"] != "ok":
        console.print(f"[yellow]kube-netpol on {size}: {row['peer_status']}[/yellow]")
        console.print(m.stderr_tail)
    return row


# ---------------------------------------------------------------- report


def judge(row: dict[str, Any]) -> None:
    if row["size"] != TARGET_SIZE or row["format"] != "json":
        return
    row["target"] = f"lint <= {TARGET_RATIO:g}x connlist"
    ratio = row.get("ratio")
    row["met"] = ratio is not None and ratio <= TARGET_RATIO


def _fmt(value: Any, spec: str = "") -> str:
    return "—" if value is None else format(value, spec)


def _findings(found: dict[str, Any] | None, keys: tuple[str, ...]) -> str:
    if not found:
        return "—"
    sev = found["by_severity"]
    return "/".join(str(sev.get(k, 0)) for k in keys)


def print_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="netpolicy lint vs connlist (-o json) and kube-netpol 1.0.0")
    columns = (
        "size",
        "format",
        "pods",
        "policies",
        "connlist s",
        "connlist MB",
        "lint s",
        "lint MB",
        "lint/connlist",
        "findings e/w/i",
        "kube-netpol s",
        "knp/lint",
        "knp findings c/h/m/l/i",
        "target",
        "met?",
    )
    for col in columns:
        left = col in ("size", "format", "target", "met?")
        table.add_column(col, justify="left" if left else "right")
    for r in rows:
        connlist = r.get("connlist_wall_s")
        lint = r.get("lint_wall_s")
        peer: Any = r.get("peer_wall_s")
        status = r.get("peer_status")
        if status == "timeout":
            peer = f">{peer:.0f} (timeout)"
        elif status not in (None, "ok"):
            peer = status
        peer_ratio = _fmt(r.get("peer_ratio"), ".1f")
        if "peer_ratio_at_least" in r:
            peer_ratio = f">{r['peer_ratio_at_least']:.1f}"
        met = {True: "yes", False: "NO"}.get(r.get("met"), "")
        table.add_row(
            r["size"],
            r["format"],
            _fmt(r["pods"], ","),
            _fmt(r["policies"], ","),
            _fmt(connlist, ".2f") if r["connlist_status"] == "ok" else r["connlist_status"],
            _fmt(r.get("connlist_peak_rss_mb"), ",.0f"),
            _fmt(lint, ".2f") if r["lint_status"] == "ok" else r["lint_status"],
            _fmt(r.get("lint_peak_rss_mb"), ",.0f"),
            _fmt(r.get("ratio"), ".2f"),
            _findings(r.get("findings"), SEVERITIES),
            _fmt(peer, ".2f" if isinstance(peer, float) else ""),
            peer_ratio,
            _findings(r.get("peer_findings"), ("critical", "high", "medium", "low", "info")),
            r.get("target", ""),
            met,
        )
    console.print(table)
    console.print(
        "[dim]s: median wall time of the runs (end to end, interpreter start included); MB:"
        " the largest peak RSS of the runs (MiB); lint/connlist: ratio of the medians;"
        " findings e/w/i: netpolicy's errors / warnings / infos; kube-netpol: one run on the"
        " same objects as YAML, one file per namespace; knp/lint: its wall time / lint's median"
        " on JSON input; its findings by its own severities (critical / high / medium / low /"
        " info).[/dim]"
    )
    for r in rows:
        if r.get("findings"):
            checks = ", ".join(f"{k} {v:,}" for k, v in r["findings"]["by_check"].items())
            console.print(f"{r['size']}/{r['format']} netpolicy: {checks or 'no findings'}")
        if r.get("peer_findings"):
            rules = ", ".join(f"{k} {v:,}" for k, v in r["peer_findings"]["by_rule"].items())
            console.print(f"{r['size']} kube-netpol: {rules or 'no findings'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,M", help="S, M and/or L (default S,M)")
    parser.add_argument(
        "--formats", default="json", help="input formats for netpolicy: json,yaml (yaml: S, M)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument(
        "--peer-timeout",
        type=float,
        default=600.0,
        help="limit for the kube-netpol run, in seconds (default 600)",
    )
    parser.add_argument(
        "--out", type=Path, default=run.RESULTS / "lint.json", help="where to write the results"
    )
    parser.add_argument("--no-peer", action="store_true", help="do not run kube-netpol")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="limit for one netpolicy run, in seconds"
    )
    args = parser.parse_args(argv)
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [s for s in sizes if s not in generate.SIZES]
    if unknown:
        parser.error(f"unknown size(s): {', '.join(unknown)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not args.no_peer and not KUBE_NETPOL.exists():
        raise SystemExit(
            f"kube-netpol is not installed: run bash {HERE / 'setup_lint_peer.sh'}"
            " (or pass --no-peer)"
        )

    run.precompile()
    load_before = [round(x, 2) for x in os.getloadavg()]
    rows: list[dict[str, Any]] = []
    for size in sizes:
        meta = run.ensure_data(size, args.seed)
        counts = meta["counts"]
        size_rows = []
        for fmt in formats:
            if not (run.DATA / size / f"cluster.{fmt}").exists():
                console.print(f"[dim]{size}: no cluster.{fmt}, skipped[/dim]")
                continue
            row = {
                "seed": args.seed,
                "pods": counts["pods"],
                "workloads": counts["workloads"],
                "policies": counts["policies"],
                "namespaces": counts["namespaces"],
                **measure_pair(size, fmt, args.repeat, args.timeout),
            }
            size_rows.append(row)
        if not args.no_peer and size_rows:
            peer = run_peer(size, args.peer_timeout)
            # compared with lint on JSON input, or on the only format run
            json_rows = [r for r in size_rows if r["format"] == "json"] or size_rows[:1]
            for row in json_rows:
                row.update(peer)
                lint = row.get("lint_wall_s")
                if lint and peer["peer_status"] == "ok":
                    row["peer_ratio"] = round(peer["peer_wall_s"] / lint, 2)
                elif lint and peer["peer_status"] == "timeout":
                    row["peer_ratio_at_least"] = round(peer["peer_wall_s"] / lint, 2)
        rows.extend(size_rows)

    for row in rows:
        judge(row)
    print_table(rows)
    report = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # 1/5/15-minute load averages: other work on the machine shows up here
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "repeat": args.repeat,
        "peer": f"kube-netpol {KUBE_NETPOL_VERSION}",
        "self_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target": {"size": TARGET_SIZE, "max_ratio": TARGET_RATIO},
        "rows": rows,
    }
    path = args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(
        f"[dim]load average (1/5/15 min) before {load_before}, after {report['loadavg_after']};"
        f" wrote {path}[/dim]"
    )
    failed = any(r["connlist_status"] != "ok" or r["lint_status"] != "ok" for r in rows)
    failed |= any(r.get("met") is False for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
