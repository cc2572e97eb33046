"""The analysis against real packets: build a lab of the cluster, enforce, probe, compare.

One cluster, with an IP for every pod (`assign_addresses`), feeds both sides: the all-pairs
engine (`compute_connectivity`, exactly what `connlist` reports) says what each probe should
do, and `render_ruleset` of the same cluster, loaded in the lab router, decides what the
packets do. The expected verdicts are computed per pair of pod classes and expanded to the
probes as arrays, never one Python call per probe; a fixed sample of them (1%, and every
probe of a small lab, see `cross_check_size`) is decided again by the one-pair evaluator
(`Evaluator.decide`): two analyses that disagree are a bug of netpolicy, reported apart from
the packets.

What "passed the filter" means, per observed detail: the router rejects every denied packet
with ICMP admin-prohibited (`RulesetOptions(tcp_reset=False)`), so a reset, ICMP port
unreachable or ABORT can only come from the destination pod itself:

- `connected`: the destination's server answered          -> passed
- `refused`: the destination's kernel (or SCTP responder)
  answered for a port nobody serves                       -> passed
- `prohibited` / `unreachable`: ICMP from the router      -> filtered
- `timeout`: no answer at all (dropped)                   -> filtered

A `refused` on a port the destination serves is an anomaly of the lab, never an agreement.
Probes, their verdicts and the packets' answers are kept as columns (numpy arrays): a lab of
a thousand pods probes about five million times.
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import pod_name
from netpolicy.enforce import DEFAULT_TABLE, RulesetOptions, render_ruleset
from netpolicy.enforce.addressing import LAB_RANGE, assign_addresses
from netpolicy.enforce.apply import EnforceError, RuleStat, rule_stats
from netpolicy.lab.errors import LabError
from netpolicy.lab.probe import DEFAULT_TIMEOUT, ProbeColumns, ProbeOutcomes, probe_columns
from netpolicy.lab.ruleset import apply_ruleset
from netpolicy.lab.servers import DETAILS, PROTOCOL_CODES, REFUSED
from netpolicy.lab.topology import LabPod, LabProtocol, LabSpec, Progress, build_lab, new_prefix
from netpolicy.model import PROTOCOLS, Cluster, Pod, Protocol
from netpolicy.semantics import ConnectionSet, Evaluator, PodInfo, Side

PortChoice = Literal["declared", "policy"]
"""Which ports each destination is probed on.

`declared`: its declared container ports, plus one port per protocol that no pod declares
and no rule names. `policy`: that, plus the edges of every numeric port range the policies
name (port-1, port, endPort, endPort+1), so that ranges are probed at their boundaries.
"""

PASSED_DETAILS = frozenset({"connected", REFUSED})
PHASES = ("analysis", "build", "apply", "probe", "teardown")
CROSS_CHECK_SHARE = 0.01
CROSS_CHECK_MINIMUM = 300
_CROSS_CHECK_SEED = 20261202
_FALLBACK_UNDECLARED = 40000
_PROTOCOL_OF: tuple[Protocol, ...] = ("TCP", "UDP", "SCTP")  # PROTOCOL_CODES, inverted
_PASSED_CODES = np.array(
    [d in PASSED_DETAILS for d in DETAILS] + [False] * (256 - len(DETAILS)), dtype=bool
)
_REFUSED_CODE = DETAILS.index(REFUSED)


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
    """One probe of the plan: from `src` to `dst` on `port`/`protocol`, and its verdict."""

    src: str
    dst: str
    protocol: Protocol
    port: int
    served: bool
    """The destination declares this port (a server listens on it)."""
    expected: bool
    """The verdict of the all-pairs engine."""


@dataclass(frozen=True, slots=True)
class EngineMismatch:
    """A probe on which the all-pairs engine and the one-pair evaluator disagree (a bug)."""

    src: str
    dst: str
    protocol: Protocol
    port: int
    evaluator: bool
    engine: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "src": self.src,
            "dst": self.dst,
            "protocol": self.protocol,
            "port": self.port,
            "evaluator": self.evaluator,
            "engine": self.engine,
        }


class ProbePlan(Sequence[PlannedProbe]):
    """Every probe of a lab as columns, in order: by source, destination, then port.

    `src`/`dst` index the plan's pods; `protocol` holds `PROTOCOL_CODES`. Indexing or
    iterating makes `PlannedProbe` values one at a time (for tests and small labs).
    """

    def __init__(
        self,
        names: Sequence[str],
        src: NDArray[np.int32],
        dst: NDArray[np.int32],
        port: NDArray[np.int32],
        protocol: NDArray[np.uint8],
        served: NDArray[np.bool_],
        expected: NDArray[np.bool_],
        ports_of: Sequence[tuple[tuple[int, Protocol], ...]],
    ) -> None:
        self.names = names
        self.src, self.dst, self.port, self.protocol = src, dst, port, protocol
        self.served, self.expected = served, expected
        self.ports_of = ports_of
        """Per pod: the ports it is probed on as a destination, in probe order."""
        self._starts: list[int] | None = None

    def __len__(self) -> int:
        return len(self.src)

    @overload
    def __getitem__(self, index: int) -> PlannedProbe: ...
    @overload
    def __getitem__(self, index: slice) -> list[PlannedProbe]: ...
    def __getitem__(self, index: int | slice) -> PlannedProbe | list[PlannedProbe]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return PlannedProbe(
            self.names[self.src[index]],
            self.names[self.dst[index]],
            _PROTOCOL_OF[self.protocol[index]],
            int(self.port[index]),
            bool(self.served[index]),
            bool(self.expected[index]),
        )

    def rows(self, src: int) -> tuple[int, int]:
        """The probes from source pod `src`: rows [start, stop)."""
        if self._starts is None:
            pods = np.arange(len(self.names) + 1, dtype=self.src.dtype)
            self._starts = np.searchsorted(self.src, pods).tolist()
        return self._starts[src], self._starts[src + 1]


class Explainer:
    """Why the analysis allows or denies a probe, in one line, from the evaluator's sides.

    Pods of one class are alike to every rule, so each (source class, destination class)
    needs the evaluator once; the memory of it is bounded.
    """

    _LIMIT = 100_000

    def __init__(self, evaluator: Evaluator, infos: Sequence[PodInfo], classes: Sequence[int]):
        self.evaluator = evaluator
        self.infos = infos
        self.classes = classes
        self._sides: dict[tuple[int, int], tuple[Side, Side]] = {}

    def sides(self, src: int, dst: int) -> tuple[Side, Side]:
        key = (self.classes[src], self.classes[dst])
        found = self._sides.get(key)
        if found is None:
            if len(self._sides) >= self._LIMIT:
                self._sides.clear()
            a, b = self.infos[src], self.infos[dst]
            found = (self.evaluator.side("egress", a, b), self.evaluator.side("ingress", b, a))
            self._sides[key] = found
        return found

    def reason(self, src: int, dst: int, protocol: Protocol, port: int) -> str:
        """One line: the rules that opened the port, or the sides that denied it."""
        egress, ingress = self.sides(src, dst)
        if egress.allowed.allows(protocol, port) and ingress.allowed.allows(protocol, port):
            rules = [
                m.rule_id
                for side in (egress, ingress)
                for m in side.matches
                if m.connections.allows(protocol, port)
            ]
            return "allowed by " + "; ".join(rules) if rules else "neither side is isolated"
        parts = [
            f"{side.direction} of {'source' if side.direction == 'egress' else 'destination'} "
            f"isolated by {', '.join(side.policies)} and no rule allows it"
            for side in (egress, ingress)
            if side.isolated and not side.allowed.allows(protocol, port)
        ]
        return "; ".join(parts) or "denied"


@dataclass(slots=True)
class LabPlan:
    """Everything a lab of the cluster needs, computed without touching the machine."""

    cluster: Cluster
    pods: tuple[PodPlan, ...]
    excluded: tuple[str, ...]
    """Host-network pods: they share the node's network, so the lab has no place for them."""
    assigned: dict[str, str]
    """Pods that had no IP, and the one the lab gave them."""
    ruleset: str
    probes: ProbePlan
    undeclared: dict[Protocol, int]
    analysis_seconds: float
    cross_family_pairs: int = 0
    """Ordered pairs of an IPv4 and an IPv6 pod: no packet can go between them, not probed."""
    cross_checked: int = 0
    """Probes whose engine verdict the one-pair evaluator decided again."""
    engine_mismatches: tuple[EngineMismatch, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds of the analysis: engine, expected (expanding to probes), cross-check, ruleset."""
    explainer: Explainer | None = field(default=None, repr=False, compare=False)

    def lab_spec(self, prefix: str | None = None) -> LabSpec:
        pods = tuple(LabPod(p.name, p.ip, p.served) for p in self.pods)
        probed = frozenset(pp for ports in self.probes.ports_of for pp in ports)
        return LabSpec(pods, prefix=prefix or new_prefix(), probed_ports=probed)

    def reason(self, index: int) -> str:
        """Why the analysis expects what it does of probe `index`."""
        if self.explainer is None:
            return ""
        p = self.probes
        return self.explainer.reason(
            int(p.src[index]),
            int(p.dst[index]),
            _PROTOCOL_OF[p.protocol[index]],
            int(p.port[index]),
        )


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
    why: str | Callable[[], str] = field(default="", repr=False, compare=False)
    """The reason, or how to get it (computed only when asked: see `reason`)."""

    @property
    def reason(self) -> str:
        return self.why if isinstance(self.why, str) else self.why()

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


class Outcomes(Sequence[ProbeOutcome]):
    """Some of a report's probes (all, or the disagreements), made one at a time."""

    def __init__(self, report: LabReport, rows: NDArray[np.int64] | None = None) -> None:
        self.report = report
        self.rows = rows

    def __len__(self) -> int:
        return len(self.report.plan.probes) if self.rows is None else len(self.rows)

    @overload
    def __getitem__(self, index: int) -> ProbeOutcome: ...
    @overload
    def __getitem__(self, index: slice) -> list[ProbeOutcome]: ...
    def __getitem__(self, index: int | slice) -> ProbeOutcome | list[ProbeOutcome]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        row = index if self.rows is None else int(self.rows[index])
        return self.report.outcome(row)

    def __iter__(self) -> Iterator[ProbeOutcome]:
        rows: Iterable[int] = range(len(self)) if self.rows is None else self.rows.tolist()
        for row in rows:
            yield self.report.outcome(row)


@dataclass(slots=True)
class LabReport:
    """The comparison of the analysis with real packets, probe by probe (as columns)."""

    plan: LabPlan
    packets: ProbeOutcomes
    """What the packets said about probe i: `packets.code[i]`, `packets.detail(i)`."""
    sctp_probe_method: str
    prefix: str
    timings: dict[str, float] = field(default_factory=dict)
    build_timings: dict[str, float] = field(default_factory=dict)
    """Seconds of the build's parts: namespaces, links, pods (the workers and their servers)."""
    rule_counters: tuple[RuleStat, ...] = ()
    """With `run_plan(read_counters=True)`: each counting rule of the router's table after
    the probes (chain, comment naming the policy rule, packets, bytes)."""
    observed: NDArray[np.bool_] = field(init=False, repr=False)
    """Per probe: the packet passed the ruleset (see the module docstring)."""
    agrees: NDArray[np.bool_] = field(init=False, repr=False)
    """Per probe: the packets did what the analysis expected (see `ProbeOutcome.agrees`)."""

    def __post_init__(self) -> None:
        probes, code = self.plan.probes, self.packets.code
        self.observed = _PASSED_CODES[code]
        anomaly = probes.served & (code == _REFUSED_CODE)
        self.agrees = (probes.expected == self.observed) & ~anomaly

    @property
    def pods(self) -> tuple[PodPlan, ...]:
        return self.plan.pods

    @property
    def excluded(self) -> tuple[str, ...]:
        return self.plan.excluded

    @property
    def assigned(self) -> dict[str, str]:
        return self.plan.assigned

    @property
    def undeclared(self) -> dict[Protocol, int]:
        return self.plan.undeclared

    @property
    def cross_family_pairs(self) -> int:
        return self.plan.cross_family_pairs

    @property
    def cross_checked(self) -> int:
        return self.plan.cross_checked

    @property
    def engine_mismatches(self) -> tuple[EngineMismatch, ...]:
        return self.plan.engine_mismatches

    @property
    def outcomes(self) -> Outcomes:
        return Outcomes(self)

    @property
    def agreed(self) -> int:
        return int(self.agrees.sum())

    @property
    def disagreements(self) -> Outcomes:
        return Outcomes(self, np.flatnonzero(~self.agrees))

    @property
    def ok(self) -> bool:
        return bool(self.agrees.all()) and not self.engine_mismatches

    def outcome(self, row: int) -> ProbeOutcome:
        """Probe `row` as a value (its reason is worked out when first read)."""
        planned = self.plan.probes[row]
        detail = self.packets.detail(row)
        return ProbeOutcome(
            planned.src,
            planned.dst,
            planned.protocol,
            planned.port,
            planned.served,
            planned.expected,
            detail in PASSED_DETAILS,
            detail,
            float(self.packets.elapsed[row]),
            lambda: self.plan.reason(row),
        )

    def _head(self) -> dict[str, Any]:
        return {
            "apiVersion": "netpolicy/v1",
            "kind": "LabReport",
            "ok": self.ok,
            "probes": len(self.plan.probes),
            "agreed": self.agreed,
        }

    def _middle(self) -> dict[str, Any]:
        return {
            "engineMismatches": [m.to_dict() for m in self.engine_mismatches],
            "crossChecked": self.cross_checked,
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
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole report as one document (`json_chunks` writes the same, streamed)."""
        return {
            **self._head(),
            "disagreements": [o.to_dict() for o in self.disagreements],
            **self._middle(),
            "results": [o.to_dict() for o in self.outcomes],
        }

    def json_chunks(self, extra: dict[str, Any] | None = None) -> Iterator[str]:
        """The `to_dict()` document (plus `extra` keys) as JSON text, one probe per chunk."""
        yield json.dumps(self._head())[:-1]
        yield ', "disagreements": ['
        yield from self._json_rows(np.flatnonzero(~self.agrees))
        yield "]"
        for key, value in {**self._middle(), **(extra or {})}.items():
            yield f", {json.dumps(key)}: {json.dumps(value)}"
        yield ', "results": ['
        yield from self._json_rows(None)
        yield "]}\n"

    def _json_rows(self, rows: NDArray[np.int64] | None) -> Iterator[str]:
        """`ProbeOutcome.to_dict()` of each row (all when None) as JSON, one a line, a few
        thousand a chunk: millions of probes, so formatted from the columns directly."""
        probes, packets = self.plan.probes, self.packets
        names = [json.dumps(name) for name in probes.names]
        protocols = [json.dumps(p) for p in _PROTOCOL_OF]
        details = [json.dumps(d) for d in DETAILS]
        flags = ("false", "true")
        reasons: dict[tuple[int, int, int, int], str] = {}
        classes = self.plan.explainer.classes if self.plan.explainer else None
        first = True
        count = len(probes) if rows is None else len(rows)
        for start in range(0, count, 4096):
            part = (
                np.arange(start, min(start + 4096, count))
                if rows is None
                else rows[start : start + 4096]
            )
            columns = zip(
                part.tolist(),
                probes.src[part].tolist(),
                probes.dst[part].tolist(),
                probes.protocol[part].tolist(),
                probes.port[part].tolist(),
                probes.served[part].tolist(),
                probes.expected[part].tolist(),
                self.observed[part].tolist(),
                self.agrees[part].tolist(),
                packets.code[part].tolist(),
                packets.elapsed[part].tolist(),
                strict=True,
            )
            lines = []
            for (
                row,
                src,
                dst,
                proto,
                port,
                served,
                expected,
                observed,
                agrees,
                code,
                took,
            ) in columns:
                key = (
                    (classes[src], classes[dst], proto, port)
                    if classes is not None
                    else (src, dst, proto, port)
                )
                reason = reasons.get(key)
                if reason is None:
                    if len(reasons) >= 200_000:
                        reasons.clear()
                    reason = reasons[key] = json.dumps(self.plan.reason(row))
                detail = details[code] if code < len(details) else json.dumps(packets.detail(row))
                lines.append(
                    f'{{"src": {names[src]}, "dst": {names[dst]}, "protocol": {protocols[proto]}, '
                    f'"port": {port}, "served": {flags[served]}, "expected": {flags[expected]}, '
                    f'"observed": {flags[observed]}, "agrees": {flags[agrees]}, '
                    f'"detail": {detail}, "seconds": {round(took, 4)}, "reason": {reason}}}'
                )
            yield ("\n  " if first else ",\n  ") + ",\n  ".join(lines)
            first = False
        if not first:
            yield "\n"


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
    """Every numeric port or range a NetworkPolicy or cluster-wide rule names."""
    ranges = []
    for cp in evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            for port in rule.ports:
                p = port.port
                if isinstance(p.port, int):
                    ranges.append((p.protocol, p.port, p.end_port or p.port))
    for admin in evaluator.tiers.all:
        for admin_rule in (*admin.ingress, *admin.egress):
            for admin_port in admin_rule.ports:
                if isinstance(admin_port.port, int):
                    # portNumber / portRange: the protocol defaults to TCP
                    end = admin_port.end_port or admin_port.port
                    ranges.append((admin_port.protocol or "TCP", admin_port.port, end))
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


def cross_check_size(probes: int) -> int:
    """How many probes the one-pair evaluator decides again: 1%, at least 300 (or all)."""
    return min(probes, max(math.ceil(probes * CROSS_CHECK_SHARE), CROSS_CHECK_MINIMUM))


def plan_lab(
    cluster: Cluster,
    *,
    ports: PortChoice = "declared",
    cidr: str = LAB_RANGE,
    cross_check: bool = True,
) -> LabPlan:
    """Give pods without an IP one, and compute the ruleset and every probe's expected verdict.

    With `cross_check`, a sample of the verdicts is decided again by the one-pair evaluator
    (`cross_check_size`; a lab that only stays up, `lab up`, has no use for it).
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
    timings = {"setup": time.monotonic() - started}

    mark = time.monotonic()
    connectivity = compute_connectivity(cluster, evaluator)
    timings["engine"] = time.monotonic() - mark

    mark = time.monotonic()
    class_of_pod = {id(pod): i for i, c in enumerate(connectivity.classes) for pod in c.pods}
    classes = [class_of_pod[id(p.pod)] for p in plans]
    probes, cross_family = _expand(plans, classes, connectivity.class_pairs, extra)
    timings["expected"] = time.monotonic() - mark

    mark = time.monotonic()
    infos = [evaluator.pod_info(p.pod) for p in plans]
    mismatches, checked = _cross_check(evaluator, infos, probes) if cross_check else ((), 0)
    timings["cross-check"] = time.monotonic() - mark

    mark = time.monotonic()
    ruleset = render_ruleset(cluster, RulesetOptions(tcp_reset=False))
    timings["ruleset"] = time.monotonic() - mark
    return LabPlan(
        cluster,
        tuple(plans),
        excluded,
        assigned,
        ruleset,
        probes,
        undeclared,
        time.monotonic() - started,
        cross_family,
        checked,
        mismatches,
        timings,
        Explainer(evaluator, infos, classes),
    )


def _expand(
    plans: Sequence[PodPlan],
    classes: Sequence[int],
    class_pairs: dict[tuple[int, int], ConnectionSet],
    extra: set[tuple[int, Protocol]],
) -> tuple[ProbePlan, int]:
    """Every probe, in order (source, destination, port), with the engine's verdict.

    The verdict of a probe is whether its (protocol, port) is in the connections the engine
    allows from the source's class to the destination's; pods of one class are different
    pods (a pod is never probed from itself), so the class's pair with itself applies.
    """
    n = len(plans)
    # the ports each destination is probed on, as keys into one table of (port, protocol)
    keys: dict[tuple[int, Protocol], int] = {}
    block_dst: list[int] = []
    block_key: list[int] = []
    block_served: list[bool] = []
    ports_of: list[tuple[tuple[int, Protocol], ...]] = []
    for d, plan in enumerate(plans):
        served = set(plan.served)
        ports_of.append(tuple(_probe_ports(plan.served, extra)))
        for port, protocol in ports_of[-1]:
            block_dst.append(d)
            block_key.append(keys.setdefault((port, protocol), len(keys)))
            block_served.append((port, protocol) in served)
    width = len(block_dst)
    versions = np.array([ipaddress.ip_address(p.ip).version for p in plans], dtype=np.int8)
    dst_block = np.array(block_dst, dtype=np.int32)
    src = np.repeat(np.arange(n, dtype=np.int32), width)
    dst = np.tile(dst_block, n)
    keep = (src != dst) & (versions[src] == versions[dst])
    src, dst = src[keep], dst[keep]
    key = np.tile(np.array(block_key, dtype=np.int32), n)[keep]
    served = np.tile(np.array(block_served, dtype=bool), n)[keep]
    v4 = int(np.count_nonzero(versions == 4))
    cross_family = 2 * v4 * (n - v4)  # ordered pairs of an IPv4 and an IPv6 pod

    # the engine's verdicts: one row of allowed keys per distinct connection set
    table = list(keys)
    sets: dict[ConnectionSet, int] = {}
    pair_keys: list[int] = []
    pair_sets: list[int] = []
    n_classes = max(classes, default=0) + 1
    for (s, d), conns in class_pairs.items():
        if s < n_classes and d < n_classes:
            pair_keys.append(s * n_classes + d)
            pair_sets.append(sets.setdefault(conns, len(sets)))
    allowed = np.zeros((len(sets) + 1, len(table)), dtype=bool)  # the last row: nothing
    for conns, row in sets.items():
        allowed[row] = [conns.allows(protocol, port) for port, protocol in table]
    order = np.argsort(np.array(pair_keys, dtype=np.int64), kind="stable")
    sorted_keys = np.array(pair_keys, dtype=np.int64)[order]
    sorted_sets = np.array(pair_sets, dtype=np.int64)[order]
    cls = np.array(classes, dtype=np.int64)
    wanted = cls[src] * n_classes + cls[dst]
    at = np.searchsorted(sorted_keys, wanted)
    found = at < len(sorted_keys)
    found[found] = sorted_keys[at[found]] == wanted[found]
    set_of = np.full(len(wanted), len(sets), dtype=np.int64)
    set_of[found] = sorted_sets[at[found]]
    expected = allowed[set_of, key]

    ports = np.array([port for port, _ in table] or [0], dtype=np.int32)[key]
    protocols = np.array([PROTOCOL_CODES[proto] for _, proto in table] or [0], dtype=np.uint8)
    names = [p.name for p in plans]
    probes = ProbePlan(names, src, dst, ports, protocols[key], served, expected, tuple(ports_of))
    return probes, cross_family


def _cross_check(
    evaluator: Evaluator, infos: Sequence[PodInfo], probes: ProbePlan
) -> tuple[tuple[EngineMismatch, ...], int]:
    """Decide a fixed sample of the probes again with the one-pair evaluator."""
    total = len(probes)
    size = cross_check_size(total)
    if size == total:
        rows = np.arange(total)
    else:
        rows = np.sort(np.random.default_rng(_CROSS_CHECK_SEED).choice(total, size, replace=False))
    mismatches = []
    for row in rows.tolist():
        src, dst = int(probes.src[row]), int(probes.dst[row])
        protocol, port = _PROTOCOL_OF[probes.protocol[row]], int(probes.port[row])
        decided = evaluator.decide(infos[src], infos[dst], protocol, port).allowed
        engine = bool(probes.expected[row])
        if decided != engine:
            mismatches.append(
                EngineMismatch(
                    probes.names[src], probes.names[dst], protocol, port, decided, engine
                )
            )
    return tuple(mismatches), len(rows)


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
    read_counters: bool = False,
) -> LabReport:
    """The packet half of `verify`, on a plan made by `plan_lab`; with `read_counters`, the
    report also has every rule's counter after the probes (one `nft -j list` in the router)."""
    timings = {"analysis": plan.analysis_seconds}
    spec = plan.lab_spec(prefix)
    started = time.monotonic()
    with build_lab(spec, progress) as lab:
        timings["build"] = time.monotonic() - started
        parts = ("namespaces", "links", "pods")
        build: dict[str, float] = {k: lab.timings[k] for k in parts if k in lab.timings}
        started = time.monotonic()
        if progress is not None:
            progress("apply", 0, 1)
        apply_ruleset(lab, plan.ruleset)
        if progress is not None:
            progress("apply", 1, 1)
        timings["apply"] = time.monotonic() - started
        started = time.monotonic()
        probes = plan.probes
        columns = ProbeColumns(
            probes.src,  # the plan's pods are the lab's, in the same order
            probes.dst,
            probes.port,
            probes.protocol,
            tuple(p.ip for p in plan.pods),
        )
        packets = probe_columns(lab, columns, timeout=timeout, progress=progress)
        timings["probe"] = time.monotonic() - started
        counted: tuple[RuleStat, ...] = ()
        if read_counters:
            try:
                counted = tuple(rule_stats(DEFAULT_TABLE, lab.router_netns))
            except EnforceError as exc:
                raise LabError(str(exc)) from exc
        method = lab.sctp_probe_method
        lab.teardown(progress)
        timings["teardown"] = lab.timings.get("teardown", 0.0)
    return LabReport(plan, packets, method, spec.prefix, timings, build, counted)


__all__ = [
    "PHASES",
    "EngineMismatch",
    "Explainer",
    "LabPlan",
    "LabReport",
    "Outcomes",
    "PlannedProbe",
    "PodPlan",
    "PortChoice",
    "ProbeOutcome",
    "ProbePlan",
    "cross_check_size",
    "plan_lab",
    "run_plan",
    "verify",
]
