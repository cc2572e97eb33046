"""Generate realistic synthetic clusters for netpolicy's benchmarks.

A cluster is namespaces (labelled `team`/`env`), Deployments, StatefulSets and a DaemonSet with
their live pods, and NetworkPolicies of the shapes teams write: a default-deny and a DNS
allowance per namespace, then one policy per workload (until the size's policy budget is
spent), then extra policies. Most workloads are small (1-3 replicas) and a heavy tail of
Deployments takes the remaining pods, as in real clusters. Pods carry the labels their
controllers give them (`pod-template-hash`; a StatefulSet's `controller-revision-hash`,
`statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`, unique per pod; a
DaemonSet's `controller-revision-hash` and `pod-template-generation`). Everything is
deterministic from `--seed`; pods are written as they are made, so the large size never holds
its 150,000 pods in memory.

    python benchmarks/generate.py --size S|M|L [--seed 1] [--out benchmarks/data]
                                  [--format json|yaml|both] [--count]

writes, under OUT/SIZE/:
    cluster.json   one `kind: List` (compact JSON, one item per line)
    cluster.yaml   the same items as multi-document YAML (S and M by default)
    nca/{namespaces,pods,policies}/*.yaml   the layout network-config-analyzer reads (S and M)
    meta.json      seed, counts (incl. distinct pod label sets) and generation time

`--count` also loads the written cluster with netpolicy and counts the allowed connections
at workload level (netpolicy's own engine; there is no second evaluator here).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

try:
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]


class YamlDumper(_BaseDumper):
    """Writes shared sub-objects out in full: no `&id001` anchors in the manifests."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


Obj = dict[str, Any]

GENERATOR = 2
"""Bumped when the generator's output changes: run.py regenerates data made by another one."""


@dataclass(frozen=True)
class Size:
    pods: int
    policies: int
    namespaces: int  # application namespaces; kube-system and monitoring come on top
    workloads: int  # application workloads; coredns, prometheus and log-agent come on top
    teams: int
    yaml: bool  # YAML and the nca layout are written by default


SIZES = {
    "S": Size(pods=200, policies=100, namespaces=6, workloads=150, teams=3, yaml=True),
    "M": Size(pods=10_000, policies=2_000, namespaces=60, workloads=1_500, teams=8, yaml=True),
    "L": Size(
        pods=150_000, policies=10_000, namespaces=400, workloads=16_000, teams=12, yaml=False
    ),
}

TEAMS = [
    "payments",
    "checkout",
    "catalog",
    "search",
    "identity",
    "shipping",
    "analytics",
    "growth",
    "messaging",
    "media",
    "risk",
    "support",
]
ENVS = [("prod", 0.5), ("staging", 0.3), ("dev", 0.2)]
PREFIXES = [
    "cart",
    "orders",
    "invoice",
    "ledger",
    "pricing",
    "inventory",
    "profile",
    "session",
    "auth",
    "search",
    "index",
    "feed",
    "notify",
    "email",
    "report",
    "billing",
    "refund",
    "fraud",
    "ranking",
    "media",
    "upload",
    "thumbs",
    "geo",
    "quote",
    "tax",
    "audit",
    "export",
    "sync",
    "webhook",
    "catalog",
    "reviews",
    "coupons",
]
TIERS = [("frontend", 0.15), ("backend", 0.40), ("db", 0.12), ("cache", 0.08), ("worker", 0.25)]
SUFFIXES = {
    "frontend": ["web", "ui", "gateway"],
    "backend": ["api", "svc", "grpc"],
    "db": ["db", "postgres"],
    "cache": ["cache", "redis"],
    "worker": ["worker", "consumer", "cron"],
}
# (name, containerPort, protocol) per tier; a name is what policies may refer to.
PORTS: dict[str, list[tuple[str, int, str]]] = {
    "frontend": [("http", 8080, "TCP"), ("metrics", 9090, "TCP")],
    "backend": [("http", 8080, "TCP"), ("grpc", 50051, "TCP"), ("metrics", 9090, "TCP")],
    "db": [("db", 5432, "TCP"), ("metrics", 9187, "TCP")],
    "cache": [("redis", 6379, "TCP"), ("metrics", 9121, "TCP")],
    "worker": [("metrics", 9090, "TCP")],
    "coredns": [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")],
    "prometheus": [("web", 9090, "TCP")],
    "log-agent": [("metrics", 2020, "TCP")],
}
# Every workload starts small; the pods left over go to a heavy tail of stateless workloads.
SMALL_REPLICAS = {"Deployment": (0.5, 0.3, 0.2), "StatefulSet": (0.4, 0.2, 0.4)}  # 1, 2, 3
LARGE_SHARE = 0.35  # share of stateless workloads that may grow beyond 3 replicas
LARGE_WEIGHT_CAP = 40.0  # caps the Pareto weights (no single workload takes the cluster)
PODS_PER_NODE = 40

# Kubernetes names pods from a "safe" alphabet without vowels. The pod-template-hash uses only
# the characters of it that are also hex digits: nca recognises `<deploy>-<hash>` ReplicaSet
# owners only by a hex suffix, and would otherwise report the ReplicaSet as the workload.
POD_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
HASH_ALPHABET = "bcdf2456789"

OUTSIDE_HTTPS = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "192.168.0.0/16"]}
CORPORATE = {"cidr": "172.16.0.0/12", "except": ["172.16.5.0/24"]}
NODES = {"cidr": "192.168.0.0/16"}
PARTNER_API = {"cidr": "203.0.113.0/24"}


@dataclass
class Namespace:
    name: str
    labels: dict[str, str]
    team: str = ""
    env: str = ""


@dataclass
class Workload:
    namespace: Namespace
    name: str
    kind: str  # Deployment | StatefulSet | DaemonSet
    tier: str
    labels: dict[str, str]  # the pod template's labels
    ports: list[tuple[str, int, str]]
    replicas: int
    revision: str  # pod-template-hash (Deployment) or controller-revision-hash suffix
    service_account: str = "default"
    extra_pod_labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace.name}/{self.name}[{self.kind}]"


@dataclass
class Cluster:
    size: Size
    seed: int
    namespaces: list[Namespace]
    workloads: list[Workload]
    policies: list[Obj]

    @property
    def pods(self) -> int:
        return sum(w.replicas for w in self.workloads)


# ---------------------------------------------------------------- topology


def _weighted(rng: random.Random, choices: list[tuple[str, float]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _token(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choices(alphabet, k=length))


def _apportion(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """Split `total` into integer parts proportional to `weights` (largest remainder)."""
    base = total - minimum * len(weights)
    raw = [base * w / sum(weights) for w in weights]
    parts = [minimum + int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def make_namespaces(size: Size, rng: random.Random) -> list[Namespace]:
    namespaces = [
        Namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"}),
        Namespace(
            "monitoring",
            {"kubernetes.io/metadata.name": "monitoring", "team": "platform", "env": "prod"},
            team="platform",
            env="prod",
        ),
    ]
    seen: dict[str, int] = {}
    for i in range(size.namespaces):
        team = TEAMS[i % size.teams]
        env = _weighted(rng, ENVS)
        stem = f"{team}-{env}"
        seen[stem] = seen.get(stem, 0) + 1
        name = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"
        labels = {"kubernetes.io/metadata.name": name, "team": team, "env": env}
        namespaces.append(Namespace(name, labels, team, env))
    return namespaces


def _workload(
    ns: Namespace, name: str, kind: str, tier: str, replicas: int, rng: random.Random
) -> Workload:
    labels = {"app": name, "tier": tier, "version": f"v{rng.randint(1, 5)}"}
    return Workload(
        namespace=ns,
        name=name,
        kind=kind,
        tier=tier,
        labels=labels,
        ports=PORTS[tier],
        replicas=replicas,
        revision=_token(rng, HASH_ALPHABET, 10),
        service_account=name if rng.random() < 0.6 else "default",
    )


def node_count(size: Size) -> int:
    return max(3, size.pods // PODS_PER_NODE)


def make_workloads(size: Size, namespaces: list[Namespace], rng: random.Random) -> list[Workload]:
    kube_system, monitoring, *apps = namespaces
    coredns = Workload(
        namespace=kube_system,
        name="coredns",
        kind="Deployment",
        tier="coredns",
        labels={"k8s-app": "kube-dns"},
        ports=PORTS["coredns"],
        replicas=2,
        revision=_token(rng, HASH_ALPHABET, 10),
        service_account="coredns",
    )
    prometheus = Workload(
        namespace=monitoring,
        name="prometheus",
        kind="StatefulSet",
        tier="prometheus",
        labels={"app": "prometheus", "app.kubernetes.io/part-of": "monitoring"},
        ports=PORTS["prometheus"],
        replicas=2,
        revision=_token(rng, HASH_ALPHABET, 10),
        service_account="prometheus",
    )
    # a log shipper on every node: one pod per node, all with the same labels
    log_agent = Workload(
        namespace=monitoring,
        name="log-agent",
        kind="DaemonSet",
        tier="log-agent",
        labels={"app": "log-agent", "app.kubernetes.io/part-of": "monitoring"},
        ports=PORTS["log-agent"],
        replicas=node_count(size),
        revision=_token(rng, HASH_ALPHABET, 10),
        service_account="log-agent",
    )
    per_ns = _apportion(size.workloads, [rng.uniform(0.5, 1.5) for _ in apps])
    workloads: list[Workload] = []
    for ns, count in zip(apps, per_ns, strict=True):
        names: set[str] = set()
        for _ in range(count):
            tier = _weighted(rng, TIERS)
            stem = f"{rng.choice(PREFIXES)}-{rng.choice(SUFFIXES[tier])}"
            name, n = stem, 1
            while name in names:
                n += 1
                name = f"{stem}-{n}"
            names.add(name)
            stateful = tier == "db" or (tier == "cache" and rng.random() < 0.5)
            kind = "StatefulSet" if stateful else "Deployment"
            replicas = rng.choices((1, 2, 3), weights=SMALL_REPLICAS[kind])[0]
            workloads.append(_workload(ns, name, kind, tier, replicas, rng))
    fixed = coredns.replicas + prometheus.replicas + log_agent.replicas
    _fit_replicas(workloads, size.pods - fixed, rng)
    return [coredns, prometheus, log_agent, *workloads]


def _fit_replicas(workloads: list[Workload], target: int, rng: random.Random) -> None:
    """Make all replicas add up to exactly `target`.

    Pods left over go to a heavy tail (capped Pareto weights) of stateless workloads; when
    there are too many, random workloads lose replicas (never below 1).
    """
    stateless = [w for w in workloads if w.kind == "Deployment"]
    diff = target - sum(w.replicas for w in workloads)
    if diff > 0:
        large = [w for w in stateless if rng.random() < LARGE_SHARE] or stateless
        weights = [min(rng.paretovariate(1.2), LARGE_WEIGHT_CAP) for _ in large]
        for w, extra in zip(large, _apportion(diff, weights, minimum=0), strict=True):
            w.replicas += extra
    while diff < 0:
        w = rng.choice(workloads)
        if w.replicas > 1:
            w.replicas -= 1
            diff += 1


# ---------------------------------------------------------------- policies


def _policy(
    ns: str,
    name: str,
    pod_selector: Obj,
    *,
    ingress: list[Obj] | None = None,
    egress: list[Obj] | None = None,
    types: list[str] | None = None,
) -> Obj:
    spec: Obj = {"podSelector": pod_selector}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _labels(**labels: str) -> Obj:
    return {"matchLabels": labels}


def _expr(key: str, op: str, *values: str) -> Obj:
    return {"key": key, "operator": op, "values": list(values)}


def _ports(*ports: int | str | tuple[int, int]) -> list[Obj]:
    out: list[Obj] = []
    for p in ports:
        if isinstance(p, tuple):
            out.append({"protocol": "TCP", "port": p[0], "endPort": p[1]})
        else:
            out.append({"protocol": "TCP", "port": p})
    return out


def namespace_policies(ns: Namespace) -> list[Obj]:
    return [
        _policy(ns.name, "default-deny-all", {}, types=["Ingress", "Egress"]),
        _policy(
            ns.name,
            "allow-dns-egress",
            {},
            egress=[
                {
                    "to": [
                        {
                            "namespaceSelector": _labels(
                                **{"kubernetes.io/metadata.name": "kube-system"}
                            ),
                            "podSelector": _labels(**{"k8s-app": "kube-dns"}),
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
            types=["Egress"],
        ),
    ]


def prometheus_policy(monitoring: Namespace) -> Obj:
    return _policy(
        monitoring.name,
        "prometheus-scrape",
        _labels(app="prometheus"),
        ingress=[{"from": [{"ipBlock": dict(NODES)}], "ports": _ports(9090)}],
        egress=[{"to": [{"namespaceSelector": {}}], "ports": _ports("metrics")}],
        types=["Ingress", "Egress"],
    )


def log_agent_policy(monitoring: Namespace) -> Obj:
    """The node log shipper sends to an outside sink and is scraped by prometheus."""
    scraper = {"podSelector": _labels(app="prometheus")}
    return _policy(
        monitoring.name,
        "log-agent",
        _labels(app="log-agent"),
        ingress=[{"from": [scraper], "ports": _ports("metrics")}],
        egress=[{"to": [{"ipBlock": _copy(OUTSIDE_HTTPS)}], "ports": _ports(443)}],
        types=["Ingress", "Egress"],
    )


def _subject(w: Workload, rng: random.Random) -> Obj:
    r = rng.random()
    if r < 0.7:
        return _labels(app=w.name)
    if r < 0.85:
        return _labels(app=w.name, tier=w.tier)
    return {"matchExpressions": [_expr("app", "In", w.name)]}


def _ingress_types(rng: random.Random) -> list[str] | None:
    """Half the ingress-only policies leave policyTypes to its default."""
    return None if rng.random() < 0.5 else ["Ingress"]


def main_policy(w: Workload, partner: dict[str, str], rng: random.Random) -> Obj:
    """The policy a team writes for one workload, shaped by the workload's tier."""
    ns, team = w.namespace.name, w.namespace.team
    name = f"{w.name}-netpol"
    subject = _subject(w, rng)
    if w.tier == "frontend":
        if rng.random() < 0.6:
            ingress = [{"from": [{"ipBlock": _copy(CORPORATE)}], "ports": _ports("http")}]
        else:
            ingress = [
                {
                    "from": [{"namespaceSelector": _labels(team="platform")}, {"ipBlock": NODES}],
                    "ports": _ports(8080),
                }
            ]
        egress = [
            {"to": [{"podSelector": _labels(tier="backend")}], "ports": _ports("http", "grpc")}
        ]
        return _policy(
            ns, name, subject, ingress=ingress, egress=egress, types=["Ingress", "Egress"]
        )
    if w.tier == "backend":
        ingress = [{"from": [{"podSelector": _labels(tier="frontend")}], "ports": _ports("http")}]
        r = rng.random()
        if r < 0.25:
            peer = {
                "namespaceSelector": _labels(team=team),
                "podSelector": {"matchExpressions": [_expr("tier", "In", "frontend", "backend")]},
            }
            ingress.append({"from": [peer], "ports": _ports("grpc", 8080)})
        elif r < 0.5:
            peer = {
                "namespaceSelector": {"matchExpressions": [_expr("env", "In", "prod", "staging")]},
                "podSelector": _labels(tier="backend"),
            }
            ingress.append({"from": [peer], "ports": _ports((50000, 50100))})
        elif r < 0.7:
            exprs = [_expr("env", "NotIn", "dev"), _expr("team", "In", team, partner[team])]
            ingress.append(
                {
                    "from": [{"namespaceSelector": {"matchExpressions": exprs}}],
                    "ports": _ports("grpc"),
                }
            )
        egress = [{"to": [{"podSelector": _labels(tier="db")}], "ports": _ports(5432)}]
        if rng.random() < 0.5:
            egress.append({"to": [{"podSelector": _labels(tier="cache")}], "ports": _ports(6379)})
        if rng.random() < 0.4:
            peer = {
                "namespaceSelector": _labels(team=partner[team]),
                "podSelector": _labels(tier="backend"),
            }
            egress.append({"to": [peer], "ports": _ports("grpc")})
        return _policy(
            ns, name, subject, ingress=ingress, egress=egress, types=["Ingress", "Egress"]
        )
    if w.tier == "db":
        peers: list[Obj] = [
            {"podSelector": {"matchExpressions": [_expr("tier", "In", "backend", "worker")]}}
        ]
        if rng.random() < 0.3:
            peers.append(
                {
                    "namespaceSelector": _labels(team=team, env="prod"),
                    "podSelector": _labels(tier="backend"),
                }
            )
        ports = _ports(5432) if rng.random() < 0.5 else _ports("db")
        return _policy(
            ns, name, subject, ingress=[{"from": peers, "ports": ports}], types=_ingress_types(rng)
        )
    if w.tier == "cache":
        peer = {"podSelector": {"matchExpressions": [_expr("tier", "In", "backend", "worker")]}}
        return _policy(
            ns,
            name,
            subject,
            ingress=[{"from": [peer], "ports": _ports(6379)}],
            types=_ingress_types(rng),
        )
    # worker: takes no connections; reaches the data stores and the outside world
    egress = [
        {"to": [{"podSelector": _labels(tier="db")}], "ports": _ports(5432)},
        {"to": [{"podSelector": _labels(tier="cache")}], "ports": _ports("redis")},
        {"to": [{"ipBlock": _copy(OUTSIDE_HTTPS)}], "ports": _ports(443)},
    ]
    if rng.random() < 0.3:
        egress.append({"to": [{"ipBlock": dict(PARTNER_API)}], "ports": _ports((8000, 8999))})
    return _policy(ns, name, subject, ingress=[], egress=egress, types=["Ingress", "Egress"])


def extra_policy(w: Workload, round_: int, rng: random.Random) -> Obj:
    """Policies added once every workload has its main one: scraping, egress, peers."""
    ns = w.namespace.name
    subject = _subject(w, rng)
    kind = round_ % 3
    suffix = "" if round_ < 3 else f"-{round_ // 3 + 1}"
    if kind == 0:
        peer = {
            "namespaceSelector": _labels(**{"kubernetes.io/metadata.name": "monitoring"}),
            "podSelector": _labels(app="prometheus"),
        }
        return _policy(
            ns,
            f"{w.name}-allow-scrape{suffix}",
            subject,
            ingress=[{"from": [peer], "ports": _ports("metrics")}],
            types=_ingress_types(rng),
        )
    if kind == 1:
        return _policy(
            ns,
            f"{w.name}-allow-https-egress{suffix}",
            subject,
            egress=[{"to": [{"ipBlock": _copy(OUTSIDE_HTTPS)}], "ports": _ports(443)}],
            types=["Egress"],
        )
    # replicas of one app talk to each other (gossip, leader election) on every port
    return _policy(
        ns,
        f"{w.name}-allow-peers{suffix}",
        subject,
        ingress=[{"from": [{"podSelector": _labels(app=w.name)}]}],
        egress=[{"to": [{"podSelector": _labels(app=w.name)}]}],
        types=["Ingress", "Egress"],
    )


def _copy(block: Obj) -> Obj:
    return {k: list(v) if isinstance(v, list) else v for k, v in block.items()}


def make_policies(
    size: Size, namespaces: list[Namespace], workloads: list[Workload], rng: random.Random
) -> list[Obj]:
    _kube_system, monitoring, *apps = namespaces
    policies = [p for ns in [monitoring, *apps] for p in namespace_policies(ns)]
    policies.append(prometheus_policy(monitoring))
    policies.append(log_agent_policy(monitoring))
    budget = size.policies - len(policies)
    if budget < 0:
        raise ValueError(f"a budget of {size.policies} policies does not cover the namespaces")
    teams = TEAMS[: size.teams]
    partner = {t: teams[(i + 1) % len(teams)] for i, t in enumerate(teams)}
    apps_w = [w for w in workloads if w.namespace.team and w.namespace.name != "monitoring"]
    order = apps_w[:]
    rng.shuffle(order)  # teams adopt policies one workload at a time, in no particular order
    round_ = 0
    while budget > 0:
        for w in order[:budget]:
            policies.append(
                main_policy(w, partner, rng) if round_ == 0 else extra_policy(w, round_ - 1, rng)
            )
        budget -= min(budget, len(order))
        round_ += 1
    return policies


def make_cluster(size: Size, seed: int) -> Cluster:
    rng = random.Random(f"netpolicy-bench:{seed}:topology")
    namespaces = make_namespaces(size, rng)
    workloads = make_workloads(size, namespaces, rng)
    policies = make_policies(size, namespaces, workloads, random.Random(f"{seed}:policies"))
    return Cluster(size, seed, namespaces, workloads, policies)


# ---------------------------------------------------------------- objects


def namespace_object(ns: Namespace) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns.name, "labels": ns.labels},
    }


def _container(w: Workload) -> Obj:
    registry = f"registry.example.com/{w.namespace.team or w.namespace.name}"
    image = f"{registry}/{w.name}:{w.labels.get('version', '1.0')}"
    return {
        "name": w.name,
        "image": image,
        "ports": [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in w.ports],
    }


def workload_object(w: Workload) -> Obj:
    selector = {"app": w.name} if "app" in w.labels else dict(w.labels)
    spec: Obj = {"selector": {"matchLabels": selector}}
    if w.kind != "DaemonSet":
        spec = {"replicas": w.replicas, **spec}
    if w.kind == "StatefulSet":
        spec["serviceName"] = w.name
    spec["template"] = {
        "metadata": {"labels": w.labels},
        "spec": {"serviceAccountName": w.service_account, "containers": [_container(w)]},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": w.kind,
        "metadata": {"name": w.name, "namespace": w.namespace.name, "labels": selector},
        "spec": spec,
    }


class PodFactory:
    """Live pods of the workloads: names, owners, IPs and nodes as a real cluster has them."""

    def __init__(self, cluster: Cluster) -> None:
        self.rng = random.Random(f"netpolicy-bench:{cluster.seed}:pods")
        self.nodes = node_count(cluster.size)
        self.used = [0] * self.nodes

    def _place(self, node: int | None = None) -> tuple[int, int]:
        if node is None:
            node = self.rng.randrange(self.nodes)
        while self.used[node] >= 250:
            node = (node + 1) % self.nodes
        self.used[node] += 1
        return node, self.used[node] + 1

    def _uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def pods(self, w: Workload) -> Iterator[Obj]:
        container = _container(w)
        if w.kind == "Deployment":
            owner: Obj = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": f"{w.name}-{w.revision}",
            }
            labels = {**w.labels, "pod-template-hash": w.revision}
            names: set[str] = set()
            while len(names) < w.replicas:
                names.add(f"{w.name}-{w.revision}-{_token(self.rng, POD_SUFFIX_ALPHABET, 5)}")
            pod_names = sorted(names)
        elif w.kind == "StatefulSet":
            owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": w.name}
            labels = {**w.labels, "controller-revision-hash": f"{w.name}-{w.revision}"}
            pod_names = [f"{w.name}-{i}" for i in range(w.replicas)]
        else:  # DaemonSet: one pod per node
            owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": w.name}
            labels = {
                **w.labels,
                "controller-revision-hash": w.revision,
                "pod-template-generation": "1",
            }
            names = set()
            while len(names) < w.replicas:
                names.add(f"{w.name}-{_token(self.rng, POD_SUFFIX_ALPHABET, 5)}")
            pod_names = sorted(names)
        owner = {**owner, "uid": self._uid(), "controller": True, "blockOwnerDeletion": True}
        for i, name in enumerate(pod_names):
            pod_labels = labels
            if w.kind == "StatefulSet":
                pod_labels = {
                    **labels,
                    "apps.kubernetes.io/pod-index": str(i),
                    "statefulset.kubernetes.io/pod-name": name,
                }
            node, host = self._place(i if w.kind == "DaemonSet" else None)
            ip = f"10.{node >> 8}.{node & 255}.{host}"
            yield {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": w.namespace.name,
                    "uid": self._uid(),
                    "labels": pod_labels,
                    "ownerReferences": [owner],
                },
                "spec": {
                    "nodeName": f"node-{node:04d}",
                    "serviceAccountName": w.service_account,
                    "containers": [container],
                },
                "status": {
                    "phase": "Running",
                    "hostIP": f"192.168.{node // 250}.{node % 250 + 1}",
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                },
            }


def iter_objects(cluster: Cluster) -> Iterator[Obj]:
    """Every object of the cluster in a stable order; pods are made as they are consumed."""
    for ns in cluster.namespaces:
        yield namespace_object(ns)
    for w in cluster.workloads:
        yield workload_object(w)
    factory = PodFactory(cluster)
    for w in cluster.workloads:
        yield from factory.pods(w)
    yield from cluster.policies


# ---------------------------------------------------------------- writers


class JsonListWriter:
    """One `kind: List`, compact, one item per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.f: TextIO = path.open("w", encoding="utf-8")
        self.f.write('{"apiVersion":"v1","kind":"List","metadata":{},"items":[\n')
        self.first = True

    def add(self, obj: Obj) -> None:
        if not self.first:
            self.f.write(",\n")
        self.first = False
        self.f.write(json.dumps(obj, separators=(",", ":")))

    def close(self) -> None:
        self.f.write("\n]}\n")
        self.f.close()


def _yaml(obj: Obj) -> str:
    return yaml.dump(obj, Dumper=YamlDumper, sort_keys=False, default_flow_style=False)


class YamlStreamWriter:
    """Multi-document YAML, one document per object."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.f: TextIO = path.open("w", encoding="utf-8")

    def add(self, obj: Obj) -> None:
        self.f.write("---\n")
        self.f.write(_yaml(obj))

    def close(self) -> None:
        self.f.close()


class NcaLayoutWriter:
    """What `nca --connectivity DIR --pod_list DIR --ns_list DIR` reads.

    Only live pods go to pods/: nca would also turn each Deployment into pods of its own.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.namespaces: list[Obj] = []
        self.pods: dict[str, list[Obj]] = {}
        self.policies: dict[str, list[Obj]] = {}

    def add(self, obj: Obj) -> None:
        kind = obj["kind"]
        if kind == "Namespace":
            self.namespaces.append(obj)
        elif kind == "Pod":
            self.pods.setdefault(obj["metadata"]["namespace"], []).append(obj)
        elif kind == "NetworkPolicy":
            self.policies.setdefault(obj["metadata"]["namespace"], []).append(obj)

    def _write(self, sub: str, name: str, kind: str, api: str, items: list[Obj]) -> None:
        folder = self.root / sub
        folder.mkdir(parents=True, exist_ok=True)
        doc = {"apiVersion": api, "kind": kind, "items": items}
        (folder / f"{name}.yaml").write_text(_yaml(doc), encoding="utf-8")

    def close(self) -> None:
        for sub in ("namespaces", "pods", "policies"):
            folder = self.root / sub
            if folder.exists():
                for old in folder.glob("*.yaml"):
                    old.unlink()
        self._write("namespaces", "namespaces", "NamespaceList", "v1", self.namespaces)
        for ns, pods in self.pods.items():
            self._write("pods", ns, "PodList", "v1", pods)
        for ns, policies in self.policies.items():
            self._write("policies", ns, "NetworkPolicyList", "networking.k8s.io/v1", policies)


# ---------------------------------------------------------------- main


def generate(size_name: str, seed: int, out: Path, fmt: str | None = None) -> Obj:
    """Write one cluster of the named size under `out/size_name/`; return its metadata."""
    size = SIZES[size_name]
    fmt = fmt or ("both" if size.yaml else "json")
    started = time.perf_counter()
    cluster = make_cluster(size, seed)
    folder = out / size_name
    folder.mkdir(parents=True, exist_ok=True)
    writers: list[JsonListWriter | YamlStreamWriter | NcaLayoutWriter] = []
    files: list[str] = []
    if fmt in ("json", "both"):
        writers.append(JsonListWriter(folder / "cluster.json"))
        files.append("cluster.json")
    if fmt in ("yaml", "both"):
        writers.append(YamlStreamWriter(folder / "cluster.yaml"))
        writers.append(NcaLayoutWriter(folder / "nca"))
        files += ["cluster.yaml", "nca/"]
    counts: dict[str, int] = {}
    label_sets: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for obj in iter_objects(cluster):
        kind = obj["kind"]
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "Pod":
            md = obj["metadata"]
            key = (md["namespace"], tuple(sorted(md["labels"].items())))
            label_sets[key] = label_sets.get(key, 0) + 1
        for writer in writers:
            writer.add(obj)
    for writer in writers:
        writer.close()
    written = time.perf_counter() - started
    meta: Obj = {
        "size": size_name,
        "seed": seed,
        "generator": GENERATOR,
        "files": files,
        "counts": {
            "namespaces": counts.get("Namespace", 0),
            "workloads": sum(counts.get(k, 0) for k in ("Deployment", "StatefulSet", "DaemonSet")),
            "deployments": counts.get("Deployment", 0),
            "statefulsets": counts.get("StatefulSet", 0),
            "daemonsets": counts.get("DaemonSet", 0),
            "pods": counts.get("Pod", 0),
            # pods told apart by (namespace, labels); nca keeps at most 2 of each such set
            "label_sets": len(label_sets),
            "nca_endpoints": sum(min(2, n) for n in label_sets.values()),
            "policies": counts.get("NetworkPolicy", 0),
        },
        "replicas": _replica_stats([w.replicas for w in cluster.workloads]),
        "write_seconds": round(written, 2),
    }
    meta["seconds"] = round(time.perf_counter() - started, 2)
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def _replica_stats(replicas: list[int]) -> Obj:
    ordered = sorted(replicas)
    return {
        "1-3": sum(1 for r in ordered if r <= 3),
        "4-20": sum(1 for r in ordered if 3 < r <= 20),
        ">20": sum(1 for r in ordered if r > 20),
        "median": ordered[len(ordered) // 2],
        "max": ordered[-1],
    }


def count_connections(path: Path) -> Obj:
    """Allowed connections of a written cluster, counted by netpolicy's own engine."""
    from netpolicy.analysis.connectivity import compute_connectivity
    from netpolicy.analysis.connlist import connection_list
    from netpolicy.api import load_input

    started = time.perf_counter()
    cluster = load_input([path]).cluster
    result = compute_connectivity(cluster)
    conns = connection_list(result, workloads=True)
    outside = sum(1 for c in conns if c.src[0].isdigit() or c.dst[0].isdigit())
    return {
        "classes": len(result.classes),
        "workload_pairs": len(conns) - outside,
        "workload_outside_pairs": outside,
        "seconds": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument(
        "--format",
        choices=["json", "yaml", "both"],
        default=None,
        help="default: both for S and M (with the nca layout), json for L",
    )
    parser.add_argument(
        "--count",
        action="store_true",
        help="count the allowed workload pairs with netpolicy (needs cluster.json)",
    )
    args = parser.parse_args(argv)
    meta = generate(args.size, args.seed, args.out, args.format)
    c, r = meta["counts"], meta["replicas"]
    print(
        f"{args.size} (seed {args.seed}): {c['namespaces']} namespaces, {c['workloads']} workloads"
        f" ({c['deployments']} Deployments, {c['statefulsets']} StatefulSets,"
        f" {c['daemonsets']} DaemonSet), {c['pods']:,} pods in {c['label_sets']:,} label sets"
        f" ({c['nca_endpoints']:,} nca endpoints), {c['policies']:,} policies"
        f" -> {args.out / args.size} in {meta['seconds']} s"
    )
    print(
        f"  replicas: {r['1-3']:,} workloads with 1-3, {r['4-20']:,} with 4-20,"
        f" {r['>20']:,} with more (median {r['median']}, max {r['max']})"
    )
    if args.count:
        counted = count_connections(args.out / args.size / "cluster.json")
        meta["netpolicy_count"] = counted
        (args.out / args.size / "meta.json").write_text(
            json.dumps(meta, indent=2) + "\n", encoding="utf-8"
        )
        print(
            f"  netpolicy: {counted['classes']:,} classes, {counted['workload_pairs']:,} workload"
            f" pairs (+{counted['workload_outside_pairs']:,} with an outside range)"
            f" in {counted['seconds']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
