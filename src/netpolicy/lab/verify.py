"""The analysis against real packets: build a lab of the cluster, enforce, probe, compare.

One cluster, with an IP for every pod (`assign_addresses`), feeds both sides: the one
evaluator (`Evaluator.decide`) says what each probe should do, and `render_ruleset` of the
same cluster, loaded in the lab router, decides what the packets do. The all-pairs engine
is checked against the evaluator on every probe too: two analyses that disagree are a bug.

What "passed the filter" means, per observed detail: the router rejects every denied packet
with ICMP admin-prohibited (`RulesetOptions(tcp_reset=False)`), so a reset, ICMP port
unreachable or ABORT can only come from the destination pod itself:

- `connected`: the destination's server answered          -> passed
- `refused`: the destination's kernel (or SCTP responder)
  answered for a port nobody serves                       -> passed
- `prohibited` / `unreachable`: ICMP from the router      -> filtered
- `timeout`: no answer at all (dropped)                   -> filtered

A `refused` on a port the destination serves is an anomaly of the lab, never an agreement.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import pod_name
from netpolicy.enforce import RulesetOptions, render_ruleset
from netpolicy.enforce.addressing import LAB_RANGE, assign_addresses
from netpolicy.lab.errors import LabError
from netpolicy.lab.probe import DEFAULT_TIMEOUT, Probe, probe_all
from netpolicy.lab.ruleset import apply_ruleset
from netpolicy.lab.servers import CONNECTED, REFUSED
from netpolicy.lab.topology import LabPod, LabProtocol, LabSpec, Progress, build_lab, new_prefix
from netpolicy.model import PROTOCOLS, Cluster, Pod, Protocol
from netpolicy.semantics import ConnectionSet, Decision, Evaluator, PodInfo

PortChoice = Literal["declared", "policy"]
"""Which ports each destination is probed on.

`declared`: its declared container ports, plus one port per protocol that no pod declares
and no rule names. `policy`: that, plus the edges of every numeric port range the policies
name (port-1, port, endPort, endPort+1), so that ranges are probed at their boundaries.
"""

PASSED_DETAILS = frozenset({CONNECTED, REFUSED})
PHASES = ("analysis", "build", "apply", "probe", "teardown")
_FALLBACK_UNDECLARED = 40000


@dataclass(frozen=True, slots=True)
class PodPlan:
    """One pod of the cluster as the lab builds it."""

    name: str
    """The endpoint name the analysis prints (`ns/name`, `ns/name[Kind]` for a stand-in)."""
    pod: Pod
    ip: str
    served: tuple[tuple[int, LabProtocol], ...]


@dataclass(frozen=True, slots=True)
class PlannedProbe:
    src: str
    dst: str
    protocol: Protocol
    port: int
    served: bool
    """The destination declares this port (a server listens on it)."""
    expected: bool
    engine: bool
    """The verdict of the all-pairs engine (must equal `expected`)."""
    reason: str


@dataclass(frozen=True, slots=True)
class LabPlan:
    """Everything a lab of the cluster needs, computed without touching the machine."""

    cluster: Cluster
    pods: tuple[PodPlan, ...]
    excluded: tuple[str, ...]
    """Host-network pods: they share the node's network, so the lab has no place for them."""
    assigned: dict[str, str]
    """Pods that had no IP, and the one the lab gave them."""
    ruleset: str
    probes: tuple[PlannedProbe, ...]
    undeclared: dict[Protocol, int]
    analysis_seconds: float
    cross_family_pairs: int = 0
    """Ordered pairs of an IPv4 and an IPv6 pod: no packet can go between them, not probed."""

    def lab_spec(self, prefix: str | None = None) -> LabSpec:
        pods = tuple(LabPod(p.name, p.ip, p.served) for p in self.pods)
        return LabSpec(pods, prefix=prefix or new_prefix())


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """One probe: what the analysis expected, what the packets did, and whether they agree."""

    src: str
    dst: str
    protocol: Protocol
    port: int
    served: bool
    expected: bool
    observed: bool
    """The packet passed the ruleset (see the module docstring)."""
    detail: str
    elapsed: float
    reason: str

    @property
    def agrees(self) -> bool:
        anomaly = self.served and self.detail == REFUSED
        return self.expected == self.observed and not anomaly

    def to_dict(self) -> dict[str, Any]:
        return {
            "src": self.src,
            "dst": self.dst,
            "protocol": self.protocol,
            "port": self.port,
            "served": self.served,
            "expected": self.expected,
            "observed": self.observed,
            "agrees": self.agrees,
            "detail": self.detail,
            "seconds": round(self.elapsed, 4),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class EngineMismatch:
    """A probe on which the all-pairs engine and the one-pair evaluator disagree (a bug)."""

    src: str
    dst: str
    protocol: Protocol
    port: int
    evaluator: bool
    engine: bool


@dataclass(slots=True)
class LabReport:
    """The comparison of the analysis with real packets, probe by probe."""

    pods: tuple[PodPlan, ...]
    excluded: tuple[str, ...]
    assigned: dict[str, str]
    undeclared: dict[Protocol, int]
    outcomes: list[ProbeOutcome]
    engine_mismatches: list[EngineMismatch]
    sctp_probe_method: str
    prefix: str
    timings: dict[str, float] = field(default_factory=dict)
    cross_family_pairs: int = 0

    @property
    def agreed(self) -> int:
        return sum(o.agrees for o in self.outcomes)

    @property
    def disagreements(self) -> list[ProbeOutcome]:
        return [o for o in self.outcomes if not o.agrees]

    @property
    def ok(self) -> bool:
        return not self.disagreements and not self.engine_mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "netpolicy/v1",
            "kind": "LabReport",
            "ok": self.ok,
            "probes": len(self.outcomes),
            "agreed": self.agreed,
            "disagreements": [o.to_dict() for o in self.disagreements],
            "engineMismatches": [
                {
                    "src": m.src,
                    "dst": m.dst,
                    "protocol": m.protocol,
                    "port": m.port,
                    "evaluator": m.evaluator,
                    "engine": m.engine,
                }
                for m in self.engine_mismatches
            ],
            "sctpProbeMethod": self.sctp_probe_method,
            "pods": [
                {
                    "name": p.name,
                    "ip": p.ip,
                    "ports": [{"port": n, "protocol": proto} for n, proto in p.served],
                }
                for p in self.pods
            ],
            "excludedHostNetwork": list(self.excluded),
            "assignedIPs": dict(self.assigned),
            "undeclaredPorts": dict(self.undeclared),
            "crossFamilyPairsNotProbed": self.cross_family_pairs,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "results": [o.to_dict() for o in self.outcomes],
        }


# ---- planning (pure) -----------------------------------------------------------------------


def _declared_ports(pods: Iterable[Pod]) -> dict[Protocol, set[int]]:
    """Per protocol, every port some pod declares."""
    declared: dict[Protocol, set[int]] = {p: set() for p in PROTOCOLS}
    for pod in pods:
        for cp in pod.ports:
            declared[cp.protocol].add(cp.port)
    return declared


def _named_ports(evaluator: Evaluator) -> dict[Protocol, set[int]]:
    """Per protocol, every port a rule names by number (ranges expanded)."""
    named: dict[Protocol, set[int]] = {p: set() for p in PROTOCOLS}
    for protocol, lo, hi in _policy_ranges(evaluator):
        named[protocol].update(range(lo, hi + 1))
    return named


def _policy_ranges(evaluator: Evaluator) -> list[tuple[Protocol, int, int]]:
    ranges = []
    for cp in evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            for port in rule.ports:
                p = port.port
                if isinstance(p.port, int):
                    ranges.append((p.protocol, p.port, p.end_port or p.port))
    return ranges


def _undeclared_port(declared: set[int], named: set[int], above: int) -> int:
    """A port no pod declares, and if there is one, that no rule names either.

    `above` if it is free (one above every port mentioned for any protocol, so that all
    protocols share it), else the first free one from 40000 (then from 1).
    """
    for avoid in (declared | named, declared):
        if above <= 65535 and above not in avoid:
            return above
        for start in (_FALLBACK_UNDECLARED, 1):
            for port in range(start, 65536):
                if port not in avoid:
                    return port
    return 65535  # every port is declared by some pod: then this one is served somewhere


def _boundary_ports(evaluator: Evaluator) -> set[tuple[int, Protocol]]:
    edges: set[tuple[int, Protocol]] = set()
    for protocol, lo, hi in _policy_ranges(evaluator):
        for port in (lo - 1, lo, hi, hi + 1):
            if 1 <= port <= 65535:
                edges.add((port, protocol))
    return edges


def _reason(decision: Decision, protocol: Protocol, port: int) -> str:
    """One line: the rules that opened the port, or the sides that denied it."""
    if decision.allowed:
        rules = [m.rule_id for s in (decision.egress, decision.ingress) for m in s.matches]
        return "allowed by " + "; ".join(rules) if rules else "neither side is isolated"
    parts = [
        f"{side.direction} of {'source' if side.direction == 'egress' else 'destination'} "
        f"isolated by {', '.join(side.policies)} and no rule allows it"
        for side in (decision.egress, decision.ingress)
        if side.isolated and not side.allowed.allows(protocol, port)
    ]
    return "; ".join(parts) or "denied"


def plan_lab(cluster: Cluster, *, ports: PortChoice = "declared", cidr: str = LAB_RANGE) -> LabPlan:
    """Give pods without an IP one, and compute the ruleset and every probe's expected verdict.

    Raises `LabError` when the cluster cannot become a lab (e.g. two pods share an IP).
    """
    started = time.monotonic()
    if ports not in ("declared", "policy"):
        raise LabError(f"ports must be 'declared' or 'policy', not {ports!r}")
    try:
        cluster, assigned = assign_addresses(cluster, cidr)
    except ValueError as exc:
        raise LabError(str(exc)) from exc
    evaluator = Evaluator(cluster)
    lab_pods = [p for p in cluster.pods if not p.host_network]
    excluded = tuple(pod_name(p, False) for p in cluster.pods if p.host_network)
    plans: list[PodPlan] = []
    seen: dict[str, Pod] = {}
    for pod in lab_pods:
        name = pod_name(pod, False)
        if name in seen:
            raise LabError(f"two pods are both named {name}: the lab needs unique names")
        seen[name] = pod
        served = tuple(sorted({(cp.port, cp.protocol) for cp in pod.ports}))
        plans.append(PodPlan(name, pod, pod.ip or "", served))
    used: dict[str, str] = {}
    for plan in plans:
        if plan.ip in used:
            raise LabError(
                f"pods {used[plan.ip]} and {plan.name} share the IP {plan.ip}: "
                "the lab needs one address per pod"
            )
        used[plan.ip] = plan.name

    declared_anywhere, named = _declared_ports(lab_pods), _named_ports(evaluator)
    every: set[int] = set().union(*declared_anywhere.values(), *named.values())
    above = max(every, default=0) + 1
    undeclared = {p: _undeclared_port(declared_anywhere[p], named[p], above) for p in PROTOCOLS}
    extra = {(port, proto) for proto, port in undeclared.items()}
    if ports == "policy":
        extra |= _boundary_ports(evaluator)

    infos: dict[str, PodInfo] = {p.name: evaluator.pod_info(p.pod) for p in plans}
    connectivity = compute_connectivity(cluster, evaluator)
    class_of = {id(pod): c.index for c in connectivity.classes for pod in c.pods}
    probes: list[PlannedProbe] = []
    versions = {p.name: ipaddress.ip_address(p.ip).version for p in plans}
    cross_family = 0
    for src in plans:
        for dst in plans:
            if src is dst:
                continue
            if versions[src.name] != versions[dst.name]:
                cross_family += 1  # an IPv4 pod cannot send an IPv6 packet, nor the reverse
                continue
            pair = connectivity.class_pairs.get(
                (class_of[id(src.pod)], class_of[id(dst.pod)]), ConnectionSet.none()
            )
            declared = set(dst.served)
            for port, protocol in _probe_ports(dst.served, extra):
                decision = evaluator.decide(infos[src.name], infos[dst.name], protocol, port)
                probes.append(
                    PlannedProbe(
                        src.name,
                        dst.name,
                        protocol,
                        port,
                        (port, protocol) in declared,
                        decision.allowed,
                        pair.allows(protocol, port),
                        _reason(decision, protocol, port),
                    )
                )
    ruleset = render_ruleset(cluster, RulesetOptions(tcp_reset=False))
    return LabPlan(
        cluster,
        tuple(plans),
        excluded,
        assigned,
        ruleset,
        tuple(probes),
        undeclared,
        time.monotonic() - started,
        cross_family,
    )


def _probe_ports(
    served: Sequence[tuple[int, LabProtocol]], extra: set[tuple[int, Protocol]]
) -> list[tuple[int, Protocol]]:
    """The destination's declared ports first (in order), then the others by protocol, port."""
    order = {p: i for i, p in enumerate(PROTOCOLS)}
    rest = sorted(set(extra) - set(served), key=lambda pp: (order[pp[1]], pp[0]))
    return [*served, *rest]


# ---- running ---------------------------------------------------------------------------


def verify(
    cluster: Cluster,
    *,
    progress: Progress | None = None,
    ports: PortChoice = "declared",
    timeout: float = DEFAULT_TIMEOUT,
    prefix: str | None = None,
) -> LabReport:
    """Build a lab of `cluster`, enforce its ruleset, probe every pair, compare with analysis.

    `timeout` is per probe (seconds). The lab is torn down whatever happens, Ctrl-C
    included. Raises `LabError` when the lab cannot be built or run here.
    """
    plan = plan_lab(cluster, ports=ports)
    if progress is not None:
        progress("analysis", 1, 1)
    return run_plan(plan, progress=progress, timeout=timeout, prefix=prefix)


def run_plan(
    plan: LabPlan,
    *,
    progress: Progress | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    prefix: str | None = None,
) -> LabReport:
    """The packet half of `verify`, on a plan made by `plan_lab`."""
    timings = {"analysis": plan.analysis_seconds}
    spec = plan.lab_spec(prefix)
    started = time.monotonic()
    with build_lab(spec, progress) as lab:
        timings["build"] = time.monotonic() - started
        started = time.monotonic()
        if progress is not None:
            progress("apply", 0, 1)
        apply_ruleset(lab, plan.ruleset)
        if progress is not None:
            progress("apply", 1, 1)
        timings["apply"] = time.monotonic() - started
        started = time.monotonic()
        ips = {p.name: p.ip for p in plan.pods}
        probes = [Probe(p.src, p.dst, ips[p.dst], p.port, p.protocol) for p in plan.probes]
        results = probe_all(lab, probes, timeout=timeout, progress=progress)
        timings["probe"] = time.monotonic() - started
        method = lab.sctp_probe_method
        lab.teardown(progress)
        timings["teardown"] = lab.timings.get("teardown", 0.0)
    outcomes = [
        ProbeOutcome(
            p.src,
            p.dst,
            p.protocol,
            p.port,
            p.served,
            p.expected,
            r.detail in PASSED_DETAILS,
            r.detail,
            r.elapsed,
            p.reason,
        )
        for p, r in zip(plan.probes, results, strict=True)
    ]
    mismatches = [
        EngineMismatch(p.src, p.dst, p.protocol, p.port, p.expected, p.engine)
        for p in plan.probes
        if p.expected != p.engine
    ]
    return LabReport(
        plan.pods,
        plan.excluded,
        plan.assigned,
        plan.undeclared,
        outcomes,
        mismatches,
        method,
        spec.prefix,
        timings,
        plan.cross_family_pairs,
    )


__all__ = [
    "PHASES",
    "EngineMismatch",
    "LabPlan",
    "LabReport",
    "PlannedProbe",
    "PodPlan",
    "PortChoice",
    "ProbeOutcome",
    "plan_lab",
    "run_plan",
    "verify",
]
