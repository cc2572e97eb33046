"""Dense clusters: the mostly-open connectivity of teams early in adoption.

    python benchmarks/dense.py --shape dense-L|dense-L-whole|dense-M|dense-M-2k|ownerless [--seed 1]
                                [--out DIR] [--yaml]

writes OUT/<shape>/cluster.json, one `kind: List` (compact JSON, one item per line):

    dense-L    150,000 pods in 7,500 ReplicaSets (with their Deployments), 400 namespaces
               labelled env/team, 10,000 broad policies: namespaceSelectors on env/team labels
               and ipBlocks over the pod range; most workloads reach most others
    dense-L-whole  the same with ipBlocks of whole /18s of the pod range (no /24 excepted):
               few ReplicaSets straddle a block boundary, so owners stay whole
    dense-M-2k the same as dense-M with 2,000 policies (the size the dense issue names)
    dense-M    the same shape at 10,000 pods in 500 ReplicaSets, 40 namespaces, 1,000 policies
    ownerless  10,000 pods without owners, 40 namespaces, 2,000 policies (for `--pods`)

Policies select single workloads (`app`), so about a fifth of the workloads are isolated for
ingress and a tenth for egress; the rest stay open, as in a cluster that is adopting
NetworkPolicies one workload at a time. Everything is deterministic from `--seed`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

Obj = dict[str, Any]
HERE = Path(__file__).resolve().parent
ENVS = ("prod", "staging", "dev")


@dataclass(frozen=True)
class Shape:
    namespaces: int
    workloads: int
    pods_per_workload: int
    policies: int
    owners: bool = True
    cut_pod_range: bool = True
    """ipBlocks except a /24 inside their /18 of the pod range (which splits the ReplicaSets
    that straddle a /24 boundary into pods treated differently); else whole /18s."""


SHAPES = {
    "dense-L": Shape(400, 7_500, 20, 10_000),
    "dense-L-whole": Shape(400, 7_500, 20, 10_000, cut_pod_range=False),
    "dense-M": Shape(40, 500, 20, 1_000),
    "dense-M-2k": Shape(40, 500, 20, 2_000),
    "ownerless": Shape(40, 10_000, 1, 2_000, owners=False),
}


def _ns_selector(rng: random.Random, teams: int) -> Obj:
    if rng.random() < 0.3:
        return {"matchLabels": {"env": rng.choice(ENVS)}}
    return {
        "matchExpressions": [
            {
                "key": "team",
                "operator": "In",
                "values": [f"t{rng.randrange(teams)}" for _ in range(3)],
            }
        ]
    }


def _pod_range(rng: random.Random, cut: bool) -> Obj:
    """A /18 of the pod addresses (10.0.0.0-10.2.255.255), with one /24 excepted if `cut`."""
    a, b = rng.randrange(3), 64 * rng.randrange(4)
    excepted = b + rng.randrange(64)
    block: Obj = {"cidr": f"10.{a}.{b}.0/18"}
    if cut:
        block["except"] = [f"10.{a}.{excepted}.0/24"]
    return block


def _policy(i: int, ns: str, app: str, rng: random.Random, teams: int, cut: bool) -> Obj:
    ports = [{"port": rng.choice((80, 443, 8080, 5432, 6379)), "protocol": "TCP"}]
    if rng.random() < 0.3:
        ports.append({"port": 9000, "endPort": 9100, "protocol": "TCP"})
    spec: Obj = {
        "podSelector": {"matchLabels": {"app": app}},
        "ingress": [
            {"from": [{"namespaceSelector": _ns_selector(rng, teams)}], "ports": ports},
            {"from": [{"ipBlock": _pod_range(rng, cut)}]},
        ],
        "policyTypes": ["Ingress"],
    }
    if rng.random() < 0.5:
        spec["egress"] = [
            {"to": [{"namespaceSelector": _ns_selector(rng, teams)}]},
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
                "ports": [{"port": 443}],
            },
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        ]
        spec["policyTypes"] = ["Ingress", "Egress"]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"p{i}-{app}", "namespace": ns},
        "spec": spec,
    }


def write(shape: Shape, seed: int, out: TextIO) -> dict[str, int]:
    rng = random.Random(seed)
    teams = max(shape.namespaces // 10, 4)
    first = True
    counts = {"pods": 0, "policies": 0}

    def emit(obj: Obj) -> None:
        nonlocal first
        out.write(("" if first else ",\n") + json.dumps(obj, separators=(",", ":")))
        first = False

    out.write('{"apiVersion":"v1","kind":"List","items":[\n')
    names = [f"ns{i}" for i in range(shape.namespaces)]
    for i, ns in enumerate(names):
        labels = {"env": ENVS[i % 3], "team": f"t{i % teams}"}
        emit({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    apps: list[tuple[str, str]] = []
    ip = 0
    for w in range(shape.workloads):
        ns = names[w % shape.namespaces]
        app = f"app{w}"
        apps.append((ns, app))
        labels = {"app": app, "tier": rng.choice(("web", "api", "db", "cache"))}
        owner = None
        if shape.owners:
            tmpl = {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            }
            emit(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": app, "namespace": ns},
                    "spec": {
                        "replicas": shape.pods_per_workload,
                        "selector": {"matchLabels": {"app": app}},
                        "template": tmpl,
                    },
                }
            )
            rs = f"{app}-5d8f7c9b4"
            emit(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": rs,
                        "namespace": ns,
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "name": app,
                                "uid": f"d{w}",
                                "controller": True,
                            }
                        ],
                    },
                    "spec": {
                        "replicas": shape.pods_per_workload,
                        "selector": {"matchLabels": {"app": app}},
                        "template": tmpl,
                    },
                }
            )
            owner = [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs,
                    "uid": f"r{w}",
                    "controller": True,
                }
            ]
        for p in range(shape.pods_per_workload):
            ip += 1
            meta: Obj = {
                "name": f"{app}-5d8f7c9b4-{p:05d}" if owner else app,
                "namespace": ns,
                "labels": labels,
            }
            if owner:
                meta["ownerReferences"] = owner
            emit(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": meta,
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": "x",
                                "ports": [{"containerPort": 8080, "name": "http"}],
                            }
                        ]
                    },
                    "status": {
                        "phase": "Running",
                        "podIP": f"10.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}",
                    },
                }
            )
            counts["pods"] += 1
    for i in range(shape.policies):
        ns, app = apps[rng.randrange(len(apps))]
        emit(_policy(i, ns, app, rng, teams, shape.cut_pod_range))
        counts["policies"] += 1
    out.write("\n]}\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "data")
    parser.add_argument(
        "--yaml", action="store_true", help="also write the items as multi-document cluster.yaml"
    )
    args = parser.parse_args(argv)
    folder = args.out / args.shape
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "cluster.json").open("w") as out:
        counts = write(SHAPES[args.shape], args.seed, out)
    sys.stderr.write(f"{args.shape}: {counts} -> {folder / 'cluster.json'}\n")
    if args.yaml:
        import yaml

        items = json.loads((folder / "cluster.json").read_text())["items"]
        with (folder / "cluster.yaml").open("w") as out:
            yaml.safe_dump_all(items, out, sort_keys=False)
        sys.stderr.write(f"{args.shape}: the same as YAML -> {folder / 'cluster.yaml'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
