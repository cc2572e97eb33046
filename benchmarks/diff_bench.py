"""Benchmark `netpolicy diff` against `netpolicy connlist` on the generated clusters.

    python benchmarks/diff_bench.py [--sizes M] [--seed 1] [--repeat 3] [--timeout SECONDS]
                                    [--out benchmarks/results/diff.json]

For each size: the generated cluster (run.ensure_data) is OLD; NEW is the same cluster after
a large, deterministic change written as `data/SIZE/diff-new.json`: every 10th NetworkPolicy
removed, the first numeric port of every 7th remaining policy's first ingress rule moved by
one, a default deny of ingress added in five namespaces, an egress ipBlock policy added (its
CIDR cuts the outside space only on the NEW side), every 100th pod deleted. Then, as
subprocesses and `--repeat` times each, alternating (ABBA) so that the noise of a shared
machine hits all alike:

    python -m netpolicy connlist NEW -o json --workloads
    python -m netpolicy diff OLD NEW -o json --workloads
    python -m netpolicy diff OLD NEW -o txt --workloads     (summary pass + rows pass)

Reported: median wall time and largest peak RSS (the child's own, from wait4) of each, the
ratios diff/connlist, and the size of the answers (connections listed, changes listed, by
kind). `diff` loads and analyses two clusters where connlist does one, so about 2x connlist
is the expected cost. Prints a table and writes benchmarks/results/diff.json (or --out).
Exit status 1 when a run fails.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402

console = run.console
CIDR = "203.0.113.0/24"


def make_new(old: Path, new: Path) -> dict[str, int]:
    """Write the changed cluster; return what was changed."""
    doc = json.loads(old.read_bytes())
    items: list[dict[str, Any]] = doc["items"]
    policies = [i for i in items if i["kind"] == "NetworkPolicy"]
    pods = [i for i in items if i["kind"] == "Pod"]
    drop_policies = {id(p) for k, p in enumerate(policies) if k % 10 == 0}
    drop_pods = {id(p) for k, p in enumerate(pods) if k % 100 == 0}
    kept = [i for i in items if id(i) not in drop_policies and id(i) not in drop_pods]
    ports_moved = 0
    for k, pol in enumerate(p for p in policies if id(p) not in drop_policies):
        if k % 7:
            continue
        for rule in pol["spec"].get("ingress", [])[:1]:
            for port in rule.get("ports", [])[:1]:
                if isinstance(port.get("port"), int) and port["port"] < 65535:
                    port["port"] += 1
                    if isinstance(port.get("endPort"), int) and port["endPort"] < port["port"]:
                        port["endPort"] = port["port"]
                    ports_moved += 1
    namespaces = sorted(i["metadata"]["name"] for i in items if i["kind"] == "Namespace")
    denied = namespaces[:5]
    for ns in denied:
        kept.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "bench-deny-ingress", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            }
        )
    kept.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "bench-egress-cidr", "namespace": namespaces[-1]},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": CIDR}}], "ports": [{"port": 443}]}],
            },
        }
    )
    doc["items"] = kept
    new.write_text(json.dumps(doc))
    return {
        "policies_removed": len(drop_policies),
        "ports_moved": ports_moved,
        "deny_namespaces": len(denied),
        "ipblock_policies_added": 1,
        "pods_deleted": len(drop_pods),
    }


def commands(old: Path, new: Path) -> dict[str, list[str]]:
    py = [sys.executable, "-m", "netpolicy"]
    return {
        "connlist": [*py, "connlist", str(new), "-o", "json", "--workloads"],
        "diff-json": [*py, "diff", str(old), str(new), "-o", "json", "--workloads"],
        "diff-txt": [*py, "diff", str(old), str(new), "-o", "txt", "--workloads"],
    }


def bench(size: str, seed: int, repeat: int, timeout: float) -> dict[str, Any]:
    run.ensure_data(size, seed)
    folder = run.DATA / size
    old, new = folder / "cluster.json", folder / "diff-new.json"
    changed = make_new(old, new)
    out_dir = folder / "out"
    out_dir.mkdir(exist_ok=True)
    cmds = commands(old, new)
    runs: dict[str, list[run.Measurement]] = {k: [] for k in cmds}
    outputs = {k: out_dir / f"{k}.out" for k in cmds}
    order = list(cmds)
    for i in range(repeat):
        for name in order if i % 2 == 0 else order[::-1]:
            console.print(f"[dim]{size}: {name}, run {i + 1} of {repeat}...[/dim]")
            m = run.measure(cmds[name], outputs[name], timeout, env=run.child_env())
            runs[name].append(m)
            if not m.ok:
                raise SystemExit(f"{name} failed: {m.status}\n{m.stderr_tail}")
    connections = len(json.loads(outputs["connlist"].read_bytes())["connections"])
    changes = json.loads(outputs["diff-json"].read_bytes())["changes"]
    kinds = Counter(c["change"] for c in changes)
    summary = outputs["diff-txt"].read_text().split("\nChanges")[0]
    row: dict[str, Any] = {"size": size, "changed": changed, "connections": connections}
    row["changes"] = len(changes)
    row["kinds"] = dict(kinds)
    row["summary"] = summary
    for name, ms in runs.items():
        row[name] = {
            "wall_s": statistics.median(m.wall_s for m in ms),
            "peak_rss_mb": max(m.peak_rss_mb for m in ms),
            "runs": [m.wall_s for m in ms],
        }
    base = row["connlist"]["wall_s"]
    row["ratio_json"] = round(row["diff-json"]["wall_s"] / base, 2)
    row["ratio_txt"] = round(row["diff-txt"]["wall_s"] / base, 2)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=run.RESULTS / "diff.json")
    args = parser.parse_args(argv)
    run.precompile()
    rows = [
        bench(s.strip().upper(), args.seed, args.repeat, args.timeout)
        for s in args.sizes.split(",")
        if s.strip()
    ]
    table = Table(title="netpolicy diff vs connlist (median wall, peak RSS)")
    for col in ("size", "connlist", "diff -o json", "diff -o txt", "json/connlist", "changes"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["size"],
            f"{r['connlist']['wall_s']:.2f} s / {r['connlist']['peak_rss_mb']:.0f} MB",
            f"{r['diff-json']['wall_s']:.2f} s / {r['diff-json']['peak_rss_mb']:.0f} MB",
            f"{r['diff-txt']['wall_s']:.2f} s / {r['diff-txt']['peak_rss_mb']:.0f} MB",
            f"{r['ratio_json']:.2f} (txt {r['ratio_txt']:.2f})",
            f"{r['changes']:,} {r['kinds']} of {r['connections']:,} connections",
        )
    console.print(table)
    for r in rows:
        console.print(f"[dim]{r['size']} change: {r['changed']}[/dim]")
        console.print(r["summary"], markup=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"machine": platform.platform(), "python": sys.version, "rows": rows}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
