"""What makes network-config-analyzer slow: the S cluster under differently shaped policies.

    python benchmarks/nca_shapes.py [--seed 1] [--repeat 3] [--shapes spec,ports,peers,mixed]

The S cluster of benchmarks/generate.py (200 pods, 153 workloads, 8 namespaces) is kept as
it is; only the per-workload policies change shape. Every shape keeps the same 100 policies,
including each namespace's default-deny and DNS allowance:

    spec    the policies generate.py writes (the shapes the performance issue describes)
    ports   the same peers, but every rule lists 1-4 ports drawn from 1-9000 (a third of
            them ranges, a third UDP) instead of the few well-known ports
    peers   the same ports, but 1-3 rules per direction with 1-3 peers each, drawn from
            app/tier/version pod selectors, team/env namespace selectors, both, and ipBlocks
    mixed   both at once: the shape on which nca takes tens of seconds

For each shape: netpolicy `connlist -o json --workloads` (median of --repeat runs) and nca
`-o txt_no_fw_rules` (one run), both end to end, and whether they list the same workload
pairs. Writes benchmarks/results/nca_shapes.json. Exit status 1 when a run fails or the two
tools disagree on a pair set.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402
import run  # noqa: E402

Obj = dict[str, Any]
SHAPES = ("spec", "ports", "peers", "mixed")
NAMED = ("http", "grpc", "metrics", "db", "redis")
WELL_KNOWN: list[int | str] = [8080, 5432, 6379, 443, "http", "grpc", "metrics"]


class PolicyShaper:
    """Per-workload policies of one shape, from one seeded random stream."""

    def __init__(self, cluster: generate.Cluster, wide_ports: bool, many_peers: bool, seed: int):
        self.rng = random.Random(f"netpolicy-bench:{seed}:shapes")
        self.wide_ports = wide_ports
        self.many_peers = many_peers
        self.workloads = [w for w in cluster.workloads if w.namespace.team]
        self.teams = sorted({ns.team for ns in cluster.namespaces if ns.team})

    def policy(self, w: generate.Workload) -> Obj:
        rng = self.rng
        directions = ("ingress", "egress")
        spec: Obj = {
            "podSelector": {"matchLabels": {"app": w.name}},
            "policyTypes": ["Ingress", "Egress"],
        }
        for direction in directions:
            peer_key = "from" if direction == "ingress" else "to"
            rules = []
            for _ in range(rng.randint(1, 3) if self.many_peers else 1):
                count = rng.randint(1, 3) if self.many_peers else 1
                rules.append(
                    {peer_key: [self.peer(w) for _ in range(count)], "ports": self.ports()}
                )
            spec[direction] = rules
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"{w.name}-netpol", "namespace": w.namespace.name},
            "spec": spec,
        }

    def peer(self, w: generate.Workload) -> Obj:
        rng = self.rng
        if not self.many_peers:
            return {"podSelector": {"matchLabels": {"tier": rng.choice(generate.TIERS)[0]}}}
        other = rng.choice(self.workloads)
        pods: Obj = rng.choice(
            [
                {"matchLabels": {"app": other.name}},
                {"matchLabels": {"tier": other.tier}},
                {
                    "matchExpressions": [
                        {"key": "version", "operator": "In", "values": ["v1", "v2"]}
                    ]
                },
            ]
        )
        namespaces: Obj = rng.choice(
            [
                {"matchLabels": {"team": rng.choice(self.teams)}},
                {"matchLabels": {"env": rng.choice(["prod", "staging", "dev"])}},
            ]
        )
        kind = rng.random()
        if kind < 0.4:
            return {"podSelector": pods}
        if kind < 0.7:
            return {"namespaceSelector": namespaces, "podSelector": pods}
        if kind < 0.85:
            return {"namespaceSelector": namespaces}
        # outside the pod network (10.0.0.0/8): nca never matches pod IPs against ipBlocks,
        # netpolicy does (as the conformance tests expect), so those would differ on purpose
        a, b = rng.randint(11, 223), rng.randint(0, 255)
        return {"ipBlock": {"cidr": f"{a}.0.0.0/8", "except": [f"{a}.{b}.0.0/16"]}}

    def ports(self) -> list[Obj]:
        rng = self.rng
        if not self.wide_ports:
            return [{"protocol": "TCP", "port": rng.choice(WELL_KNOWN)}]
        out = []
        for _ in range(rng.randint(1, 4)):
            protocol = "UDP" if rng.random() < 0.33 else "TCP"
            if rng.random() < 0.2:
                out.append({"protocol": protocol, "port": rng.choice(NAMED)})
                continue
            port: Obj = {"protocol": protocol, "port": rng.randint(1, 9000)}
            if rng.random() < 0.33:
                port["endPort"] = port["port"] + rng.randint(1, 100)
            out.append(port)
        return out


def shaped_cluster(shape: str, seed: int) -> generate.Cluster:
    cluster = generate.make_cluster(generate.SIZES["S"], seed)
    if shape == "spec":
        return cluster
    shaper = PolicyShaper(cluster, shape in ("ports", "mixed"), shape in ("peers", "mixed"), seed)
    by_name = {(w.namespace.name, f"{w.name}-netpol"): w for w in cluster.workloads}
    policies = []
    for p in cluster.policies:
        md = p["metadata"]
        w = by_name.get((md["namespace"], md["name"]))
        policies.append(shaper.policy(w) if w is not None else p)
    # extra policies (scrape, https egress, peers) stay as generate.py writes them
    cluster.policies = policies
    return cluster


def write(cluster: generate.Cluster, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    writers = [
        generate.JsonListWriter(folder / "cluster.json"),
        generate.NcaLayoutWriter(folder / "nca"),
    ]
    for obj in generate.iter_objects(cluster):
        for writer in writers:
            writer.add(obj)
    for writer in writers:
        writer.close()
    return len(cluster.policies)


def measure_shape(shape: str, seed: int, repeat: int, timeout: float) -> Obj:
    folder = run.DATA / "shapes" / shape
    policies = write(shaped_cluster(shape, seed), folder)
    out = folder / "out"
    out.mkdir(exist_ok=True)
    ours_out = out / "netpolicy.json"
    runs = [
        run.measure(
            run.netpolicy_command(folder / "cluster.json", []),
            ours_out,
            timeout,
            env=run.child_env(),
        )
        for _ in range(repeat)
    ]
    nca_out = out / "nca.txt"
    nca = run.measure(run.nca_command(folder), nca_out, timeout)
    row: Obj = {
        "shape": shape,
        "policies": policies,
        "wall_s": statistics.median(m.wall_s for m in runs),
        "runs_wall_s": [m.wall_s for m in runs],
        "peak_rss_mb": max(m.peak_rss_mb for m in runs),
        "status": runs[-1].status,
        "nca_wall_s": nca.wall_s,
        "nca_status": nca.status,
    }
    listed = run.connlist_pairs(ours_out) if runs[-1].ok else None
    if listed and nca.ok:
        ours, _ = listed
        theirs, _ = run.nca_pairs(nca_out)
        row.update(
            pairs=len(ours),
            nca_pairs=len(theirs),
            same_set=ours == theirs,
            only_netpolicy=sorted(ours - theirs)[:5],
            only_nca=sorted(theirs - ours)[:5],
            ratio=round(nca.wall_s / row["wall_s"], 1),
        )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    if not run.NCA.exists():
        raise SystemExit(f"nca is not installed: run bash {HERE / 'setup_peer.sh'}")
    run.precompile()
    rows = []
    for shape in args.shapes.split(","):
        if shape not in SHAPES:
            raise SystemExit(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
        run.console.print(f"[dim]{shape}: writing, then running netpolicy and nca...[/dim]")
        rows.append(measure_shape(shape, args.seed, args.repeat, args.timeout))
    table = Table(title="S (200 pods, 100 policies) by policy shape")
    for column in ("shape", "netpolicy s", "nca s", "nca/ours", "pairs", "nca pairs", "same?"):
        table.add_column(column, justify="left" if column == "shape" else "right")
    for r in rows:
        table.add_row(
            r["shape"],
            f"{r['wall_s']:.2f}",
            f"{r['nca_wall_s']:.2f}" if r["nca_status"] == "ok" else r["nca_status"],
            f"{r['ratio']:.1f}" if "ratio" in r else "—",
            f"{r.get('pairs', '—'):,}" if "pairs" in r else "—",
            f"{r['nca_pairs']:,}" if "nca_pairs" in r else "—",
            ("yes" if r["same_set"] else "NO") if "same_set" in r else "—",
        )
    run.console.print(table)
    run.RESULTS.mkdir(exist_ok=True)
    (run.RESULTS / "nca_shapes.json").write_text(json.dumps(rows, indent=2) + "\n")
    failed = [r for r in rows if r["status"] != "ok" or r["nca_status"] != "ok"]
    differ = [r for r in rows if not r.get("same_set", False)]
    for r in differ:
        run.console.print(
            f"[red]{r['shape']}: pair sets differ[/red] only netpolicy {r.get('only_netpolicy')}"
            f" only nca {r.get('only_nca')}"
        )
    return 1 if failed or differ else 0


if __name__ == "__main__":
    sys.exit(main())
