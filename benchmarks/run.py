"""Benchmark `netpolicy connlist` end to end against network-config-analyzer, in one run.

    python benchmarks/run.py [--sizes S,M,L] [--formats json,yaml] [--seed 1] [--repeat 3]
                             [--nca-m] [--nca-timeout 600] [--no-nca] [--nca-only]
                             [--probes 10000] [--no-check] [--timeout SECONDS]
                             [--connlist-args "..."]

For each size: generate the cluster if it is missing or was made by another generator
(benchmarks/generate.py); run

    python -m netpolicy connlist FILE -o json --workloads --profile

as a subprocess `--repeat` times per input format and report the median wall time and the
largest peak RSS (the child's own, from wait4); on S (and on M with --nca-m, 10-minute limit)
run nca once on the same cluster and print the ratio. Then, in this process and outside the
timed runs, load the JSON input, count netpolicy's equivalence classes and compare the
engine with the one-pair evaluator on `--probes` sampled probes (benchmarks/check.py).
Prints a table with the issue's targets, the growth exponent S -> M -> L, and writes
benchmarks/results/latest.json. Exit status 1 when a run fails, a probe disagrees or a target
is missed. nca is installed by benchmarks/setup_peer.sh.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import json
import math
import os
import platform
import re
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import check  # noqa: E402
import generate  # noqa: E402

DATA = HERE / "data"
RESULTS = HERE / "results"
NCA = HERE / ".nca-venv" / "bin" / "nca"

# A wide table: when piped, rich would otherwise squeeze it into 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)


@dataclass(frozen=True)
class Target:
    """The issue's targets for one size, for `connlist -o json` from JSON input."""

    rss_mb: float
    wall_s: float | None = None
    nca_ratio: float | None = None

    def describe(self) -> str:
        parts = []
        if self.nca_ratio is not None:
            parts.append(f"nca/ours >= {self.nca_ratio:g}")
        if self.wall_s is not None:
            parts.append(f"< {self.wall_s:g} s")
        parts.append(f"< {self.rss_mb:,.0f} MB")
        return ", ".join(parts)


TARGETS = {
    "S": Target(rss_mb=200, nca_ratio=50),
    "M": Target(rss_mb=1024, wall_s=3),
    "L": Target(rss_mb=3072, wall_s=30),
}


@dataclass
class Measurement:
    """One subprocess run: wall seconds, peak resident set, how it ended."""

    wall_s: float
    peak_rss_mb: float
    returncode: int | None  # None when killed on timeout
    timed_out: bool
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def status(self) -> str:
        if self.timed_out:
            return "timeout"
        return "ok" if self.ok else f"exit {self.returncode}"


def measure(
    cmd: list[str],
    stdout: Path,
    timeout: float,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run `cmd` with stdout to a file; wall time and the child's own peak RSS (wait4)."""
    stderr = stdout.with_suffix(stdout.suffix + ".stderr")
    timed_out = threading.Event()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True
        )

        def kill() -> None:
            timed_out.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait a second time
    tail = stderr.read_text(errors="replace")[-2000:]
    return Measurement(
        wall_s=round(wall, 3),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        returncode=None if timed_out.is_set() else proc.returncode,
        timed_out=timed_out.is_set(),
        stderr_tail=tail,
    )


# ---------------------------------------------------------------- inputs and outputs


def ensure_data(size: str, seed: int) -> dict[str, Any]:
    """The size's metadata, generating the cluster first when it is missing or stale."""
    meta_path = DATA / size / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        present = all((DATA / size / f).exists() for f in meta.get("files", []))
        current = meta.get("generator") == generate.GENERATOR
        if meta.get("seed") == seed and present and current:
            return meta
    console.print(f"[dim]generating {size} (seed {seed})...[/dim]")
    meta = generate.generate(size, seed, DATA)
    console.print(f"[dim]generated {size} in {meta['seconds']} s[/dim]")
    return meta


RANGE = re.compile(r"^[0-9a-fA-F.:]+-[0-9a-fA-F.:]+$")


def connlist_pairs(path: Path) -> tuple[set[tuple[str, str]], int] | None:
    """(in-cluster endpoint pairs, number of pairs with an outside range) of our JSON output."""
    try:
        conns = json.loads(path.read_bytes())["connections"]
    except (ValueError, KeyError, TypeError):
        return None
    inside = {
        (c["src"], c["dst"]) for c in conns if not (RANGE.match(c["src"]) or RANGE.match(c["dst"]))
    }
    return inside, len(conns) - len(inside)


NCA_LINE = re.compile(r"^(\S+) => (\S+) : ")


def nca_pairs(path: Path) -> tuple[set[tuple[str, str]], int]:
    """(in-cluster endpoint pairs, pairs with an outside range) in nca's txt_no_fw_rules output.

    nca writes one line per pair and connection piece (a pair whose ports differ by protocol
    takes two lines), so pairs are counted, not lines.
    """
    pairs: set[tuple[str, str]] = set()
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            m = NCA_LINE.match(line)
            if m:
                pairs.add((m.group(1), m.group(2)))
    inside = {(s, d) for s, d in pairs if not (s[0].isdigit() or d[0].isdigit())}
    return inside, len(pairs) - len(inside)


PROFILE = re.compile(r"profile: (.*?) · total")


def profile_phases(stderr: str) -> dict[str, float]:
    """The phases `connlist --profile` printed: load, classes, rules, combine, ..."""
    m = PROFILE.search(stderr)
    if not m:
        return {}
    phases = {}
    for part in m.group(1).split(" · "):
        name, _, seconds = part.rpartition(" ")
        phases[name] = float(seconds.rstrip("s"))
    return phases


def precompile() -> None:
    """Compile netpolicy's modules to bytecode first, as `pip install` does for nca's.

    An editable checkout has no bytecode until a run writes it, and a run never does when
    PYTHONDONTWRITEBYTECODE is set (as on the machine these numbers come from): every timed
    run would then compile all of netpolicy's modules again, which nca never has to do.
    """
    compileall.compile_dir(ROOT / "src" / "netpolicy", quiet=1)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


# ---------------------------------------------------------------- runs


def netpolicy_command(source: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "netpolicy",
        "connlist",
        str(source),
        "-o",
        "json",
        "--workloads",
        "--profile",
        *extra,
    ]


def run_netpolicy(
    size: str, fmt: str, timeout: float, extra: list[str], repeat: int
) -> tuple[list[Measurement], Path]:
    source = DATA / size / f"cluster.{fmt}"
    out = DATA / size / "out" / f"netpolicy-{fmt}.json"
    out.parent.mkdir(exist_ok=True)
    runs = []
    for i in range(repeat):
        console.print(f"[dim]{size}/{fmt}: netpolicy connlist, run {i + 1} of {repeat}...[/dim]")
        m = measure(netpolicy_command(source, extra), out, timeout, env=child_env())
        runs.append(m)
        if not m.ok:
            break
    return runs, out


def nca_command(folder: Path) -> list[str]:
    """nca on the layout generate.py writes under `folder`/nca (namespaces, pods, policies)."""
    nca = folder / "nca"
    return [
        str(NCA),
        "--connectivity",
        str(nca / "policies"),
        "--pod_list",
        str(nca / "pods"),
        "--ns_list",
        str(nca / "namespaces"),
        "-o",
        "txt_no_fw_rules",
    ]


def run_nca(size: str, timeout: float) -> tuple[Measurement, Path]:
    if not NCA.exists():
        raise SystemExit(f"nca is not installed: run bash {HERE / 'setup_peer.sh'}")
    out = DATA / size / "out" / "nca.txt"
    out.parent.mkdir(exist_ok=True)
    return measure(nca_command(DATA / size), out, timeout), out


def analyse(size: str, probes: int, seed: int) -> dict[str, Any]:
    """Classes and sampled agreement, in this process (not timed), from the JSON input."""
    from netpolicy.analysis.connectivity import compute_connectivity
    from netpolicy.api import load_input

    console.print(f"[dim]{size}: classes and {probes:,} probes against the evaluator...[/dim]")
    cluster = load_input([DATA / size / "cluster.json"]).cluster
    result = compute_connectivity(cluster)
    out: dict[str, Any] = {"classes": len(result.classes)}
    if probes:
        agreement = check.check(cluster, probes=probes, seed=seed, result=result)
        out["agreement"] = {
            "probes": agreement.probes,
            "agree": agreement.agree,
            "allowed": agreement.allowed,
            "by_kind": agreement.by_kind,
            "seconds": round(agreement.seconds, 2),
            "mismatches": [str(m) for m in agreement.mismatches],
            "summary": agreement.summary(),
        }
    del cluster, result
    gc.collect()
    return out


# ---------------------------------------------------------------- report


def growth(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Exponent k of wall ~ pods^k between consecutive sizes of one input format."""
    out: dict[str, dict[str, float]] = {}
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        prev = last.get(row["format"])
        if row.get("wall_s") is None:
            continue
        if prev is not None and row["pods"] != prev["pods"]:
            k = math.log(row["wall_s"] / prev["wall_s"]) / math.log(row["pods"] / prev["pods"])
            row["growth"] = round(k, 2)
            out.setdefault(row["format"], {})[f"{prev['size']}->{row['size']}"] = round(k, 2)
        last[row["format"]] = row
    for fmt, rows_ in ((f, [r for r in rows if r["format"] == f]) for f in out):
        timed = [r for r in rows_ if r.get("wall_s") is not None]
        if len(timed) > 2:
            a, b = timed[0], timed[-1]
            k = math.log(b["wall_s"] / a["wall_s"]) / math.log(b["pods"] / a["pods"])
            out[fmt][f"{a['size']}->{b['size']}"] = round(k, 2)
    return out


def judge(row: dict[str, Any]) -> None:
    """Set `target` and `met` on a JSON-input row of a size with targets."""
    target = TARGETS.get(row["size"])
    if target is None or row["format"] != "json":
        return
    row["target"] = target.describe()
    misses = []
    unknown = False  # the ratio is not known (nca not run) or only a lower bound below target
    wall = row.get("wall_s")
    if wall is None:
        misses.append(row.get("status", "failed"))
    elif target.wall_s is not None and wall >= target.wall_s:
        misses.append(f"{wall:.2f} s")
    if row.get("peak_rss_mb") is not None and row["peak_rss_mb"] >= target.rss_mb:
        misses.append(f"{row['peak_rss_mb']:,.0f} MB")
    if target.nca_ratio is not None:
        if row.get("ratio") is not None:
            if row["ratio"] < target.nca_ratio:
                misses.append(f"ratio {row['ratio']:.1f}")
        elif row.get("ratio_at_least", 0) < target.nca_ratio:
            unknown = True
    row["met"] = False if misses else (None if unknown else True)
    row["missed_by"] = misses


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "—"
    return format(value, spec)


def print_table(rows: list[dict[str, Any]], growths: dict[str, dict[str, float]]) -> None:
    table = Table(title="netpolicy connlist -o json --workloads vs network-config-analyzer 2.1.0")
    columns = (
        "size",
        "format",
        "pods",
        "classes",
        "policies",
        "wall s",
        "peak RSS MB",
        "conns",
        "growth",
        "nca s",
        "nca/ours",
        "target",
        "met?",
    )
    for col in columns:
        table.add_column(
            col, justify="left" if col in ("size", "format", "target", "met?") else "right"
        )
    for r in rows:
        wall = r.get("wall_s")
        if r.get("status") not in (None, "ok"):
            wall = r["status"]
        nca = r.get("nca_wall_s")
        if r.get("nca_status") == "timeout":
            nca = f">{nca:.0f} (timeout)"
        elif r.get("nca_status") not in (None, "ok"):
            nca = r["nca_status"]
        ratio = _fmt(r.get("ratio"), ".1f")
        if "ratio_at_least" in r:
            ratio = f">{r['ratio_at_least']:.1f}"
        met = {True: "yes", False: "NO", None: "?"}.get(r.get("met"), "")
        if r.get("met") is False:
            met += f" ({', '.join(r['missed_by'])})"
        if "target" not in r:
            met = ""
        table.add_row(
            r["size"],
            r["format"],
            _fmt(r["pods"], ","),
            _fmt(r.get("classes"), ","),
            _fmt(r["policies"], ","),
            _fmt(wall, ".2f" if isinstance(wall, float) else ""),
            _fmt(r.get("peak_rss_mb"), ",.0f"),
            _fmt(r.get("pairs"), ","),
            _fmt(r.get("growth"), ".2f"),
            _fmt(nca, ".2f" if isinstance(nca, float) else ""),
            ratio,
            r.get("target", ""),
            met,
        )
    console.print(table)
    console.print(
        "[dim]wall s: median of the runs (end to end, interpreter start included); peak RSS: the"
        " largest of the runs (MB = MiB); classes: netpolicy's equivalence classes of pods;"
        " conns: workload pairs listed (outside ranges apart); growth: k in wall ~ pods^k"
        " against the previous size; nca/ours: nca's wall time / our median (one nca run)."
        " Targets are for JSON input; YAML rows are for information.[/dim]"
    )
    for fmt, steps in growths.items():
        text = ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
        console.print(f"growth exponent ({fmt}, wall ~ pods^k): {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument(
        "--formats",
        default="json,yaml",
        help="input formats to run netpolicy on (yaml exists for S and M)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="netpolicy runs per measurement")
    parser.add_argument("--nca-m", action="store_true", help="also run nca on M")
    parser.add_argument(
        "--nca-timeout",
        type=float,
        default=600.0,
        help="limit for one nca run, in seconds (default 600)",
    )
    parser.add_argument("--no-nca", action="store_true", help="never run nca")
    parser.add_argument("--nca-only", action="store_true", help="run only nca (checks the peer)")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="limit for one netpolicy run, in seconds"
    )
    parser.add_argument("--probes", type=int, default=10_000, help="sampled-agreement probes")
    parser.add_argument("--no-check", action="store_true", help="skip classes and agreement")
    parser.add_argument(
        "--connlist-args", default="", help="extra arguments for netpolicy connlist"
    )
    args = parser.parse_args(argv)
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [s for s in sizes if s not in generate.SIZES]
    if unknown:
        parser.error(f"unknown size(s): {', '.join(unknown)}")

    precompile()
    rows: list[dict[str, Any]] = []
    analyses: dict[str, dict[str, Any]] = {}
    peers: dict[str, dict[str, Any]] = {}
    for size in sizes:
        meta = ensure_data(size, args.seed)
        counts = meta["counts"]
        nca_wanted = not args.no_nca and (size == "S" or (size == "M" and args.nca_m))
        nca_row: dict[str, Any] = {}
        nca_set: set[tuple[str, str]] | None = None
        if nca_wanted and (DATA / size / "nca").exists():
            console.print(f"[dim]{size}: running nca...[/dim]")
            m, out = run_nca(size, args.nca_timeout)
            nca_row = {
                "nca_wall_s": m.wall_s,
                "nca_peak_rss_mb": m.peak_rss_mb,
                "nca_status": m.status,
                "nca_command": nca_command(DATA / size),
            }
            if m.ok:
                nca_set, nca_row["nca_outside_pairs"] = nca_pairs(out)
                nca_row["nca_pairs"] = len(nca_set)
            else:
                console.print(f"[yellow]nca on {size}: {m.status}[/yellow] {m.stderr_tail}")
        if args.nca_only:
            rows.append(
                {
                    "size": size,
                    "format": "yaml (nca)",
                    "pods": counts["pods"],
                    "policies": counts["policies"],
                    **nca_row,
                }
            )
            continue
        for fmt in formats:
            source = DATA / size / f"cluster.{fmt}"
            if not source.exists():
                continue
            runs, out = run_netpolicy(
                size, fmt, args.timeout, shlex.split(args.connlist_args), args.repeat
            )
            ok = all(m.ok for m in runs)
            row: dict[str, Any] = {
                "size": size,
                "format": fmt,
                "seed": args.seed,
                "pods": counts["pods"],
                "workloads": counts["workloads"],
                "label_sets": counts.get("label_sets"),
                "policies": counts["policies"],
                "input_bytes": source.stat().st_size,
                "command": netpolicy_command(source, shlex.split(args.connlist_args)),
                "status": runs[-1].status,
                "runs_wall_s": [m.wall_s for m in runs],
                "runs_peak_rss_mb": [m.peak_rss_mb for m in runs],
                "wall_s": statistics.median(m.wall_s for m in runs) if ok else None,
                "peak_rss_mb": max(m.peak_rss_mb for m in runs),
                "profile": [profile_phases(m.stderr_tail) for m in runs],
                **{k: v for k, v in nca_row.items() if fmt == "json" or k != "nca_command"},
            }
            if ok:
                listed = connlist_pairs(out)
                if listed:
                    ours, row["outside_pairs"] = listed
                    row["pairs"] = len(ours)
                    if nca_set is not None and fmt == "json":
                        peers[size] = {
                            "nca_pairs": len(nca_set),
                            "netpolicy_pairs": len(ours),
                            "same_set": nca_set == ours,
                            "only_nca": sorted(nca_set - ours)[:10],
                            "only_netpolicy": sorted(ours - nca_set)[:10],
                        }
                if row.get("nca_status") == "ok":
                    row["ratio"] = round(row["nca_wall_s"] / row["wall_s"], 2)
                elif row.get("nca_status") == "timeout":
                    # nca ran at least this long: the ratio is a lower bound
                    row["ratio_at_least"] = round(row["nca_wall_s"] / row["wall_s"], 2)
            else:
                console.print(
                    f"[yellow]netpolicy on {size}/{fmt}: {runs[-1].status}[/yellow]\n"
                    f"{runs[-1].stderr_tail}"
                )
            rows.append(row)
        if not args.no_check and (DATA / size / "cluster.json").exists():
            analyses[size] = analyse(size, args.probes, seed=0)
            for row in rows:
                if row["size"] == size:
                    row["classes"] = analyses[size]["classes"]

    growths = growth(rows)
    for row in rows:
        judge(row)
    print_table(rows, growths)
    for size, peer in peers.items():
        same = "the same set" if peer["same_set"] else "DIFFERENT sets"
        console.print(
            f"{size}: nca lists {peer['nca_pairs']:,} workload pairs, netpolicy"
            f" {peer['netpolicy_pairs']:,}: {same}"
        )
    for size, analysis in analyses.items():
        if "agreement" in analysis:
            a = analysis["agreement"]
            style = "" if a["agree"] == a["probes"] else "[bold red]"
            console.print(f"{style}{size}: {a['summary']}")
            for m in a["mismatches"]:
                console.print(f"  MISMATCH {m}")
    RESULTS.mkdir(exist_ok=True)
    report = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "self_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rows": rows,
        "growth": growths,
        "nca_agreement": peers,
        "analysis": analyses,
    }
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(f"[dim]wrote {RESULTS / 'latest.json'}[/dim]")
    failed = any(r.get("status", "ok") != "ok" for r in rows)
    failed |= any(r.get("met") is False for r in rows)
    failed |= any(
        a.get("agreement", {}).get("agree") != a.get("agreement", {}).get("probes")
        for a in analyses.values()
    )
    failed |= any(not p["same_set"] for p in peers.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
