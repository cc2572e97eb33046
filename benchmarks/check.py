"""Sampled agreement: the all-pairs engine against the one-pair evaluator, probe by probe.

    python benchmarks/check.py FILE [FILE ...] [--probes 10000] [--seed 0]

loads a cluster, computes `compute_connectivity` once, then draws random probes
(source, destination, protocol, port) and compares, for each, the engine's pod-level answer
(the ConnectionSet of the two pods' classes in `class_pairs`, `to_outside` or `from_outside`)
with `Evaluator(cluster).decide(...).allowed` (`netpolicy.semantics`, a fresh evaluator).

Random probes (half): 60 % pod to pod (a pod never probes itself), 20 % pod to an outside
address, 20 % an outside address to a pod. Outside addresses are half drawn inside a random
outside range of the engine's (so every ipBlock piece is hit), half uniformly from IPv4.
Protocol TCP 80 %, UDP 15 %, SCTP 5 %. Half of the ports come from the input (policy ports,
the ends of ranges and one past them, container ports), half uniformly from 1-65535.

Connectivity is sparse (at M about one random probe in a thousand is allowed), so the other
half is targeted, with ports at or next to the edges of the ranges in question, or anywhere:
- engine-targeted (25 %): a random entry the engine allows (a class pair, or a class and an
  outside range), two of its pods or a pod and an address in the range; these catch
  connections the engine allows wrongly;
- rule-targeted (25 %): a random rule of a random policy, a pod the policy selects and a pod
  (or address) one of the rule's peers matches, found by the evaluator's own matchers without
  the engine; these catch connections the engine misses.
Exit status 1 when any probe disagrees.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from netpolicy.analysis.connectivity import Connectivity, compute_connectivity
from netpolicy.api import load_input
from netpolicy.model import Cluster, Pod, Protocol
from netpolicy.semantics import (
    ConnectionSet,
    Endpoint,
    Evaluator,
    External,
    IntervalSet,
    PodInfo,
    format_range,
)

PROTOCOLS: tuple[Protocol, ...] = ("TCP", "UDP", "SCTP")
PROTOCOL_WEIGHTS = (0.80, 0.15, 0.05)


@dataclass
class Mismatch:
    src: str
    dst: str
    protocol: Protocol
    port: int
    engine: bool
    evaluator: bool

    def __str__(self) -> str:
        return (
            f"{self.src} -> {self.dst} {self.protocol}/{self.port}: "
            f"compute_connectivity says {'allowed' if self.engine else 'denied'}, "
            f"Evaluator.decide says {'allowed' if self.evaluator else 'denied'}"
        )


@dataclass
class Agreement:
    probes: int = 0
    agree: int = 0
    allowed: int = 0  # probes both sides allow
    by_kind: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.agree == self.probes

    def summary(self) -> str:
        how: dict[str, int] = {}
        for kind, n in self.by_kind.items():
            method = kind.partition("(")[2].rstrip(")") or "random"
            how[method] = how.get(method, 0) + n
        drawn = ", ".join(f"{n} {k}" for k, n in sorted(how.items(), key=lambda kv: -kv[1]))
        return (
            f"{self.agree}/{self.probes} probes agree ({drawn}; {self.allowed} allowed;"
            f" {self.seconds:.1f} s)"
        )


def interesting_ports(cluster: Cluster, evaluator: Evaluator) -> list[int]:
    """Port numbers the input mentions: policy ports, range ends and one past them, containers."""
    ports: set[int] = set()
    for cp in evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            static = rule.static_connections()
            for proto in PROTOCOLS:
                for lo, hi in static.ports(proto).ranges:
                    ports.update((lo, hi, lo - 1, hi + 1, (lo + hi) // 2))
    for pod in cluster.pods:
        ports.update(p.port for p in pod.ports)
    return sorted(p for p in ports if 1 <= p <= 65535)


@dataclass(frozen=True)
class Probe:
    """One question: may `src` connect to `dst` on (protocol, port)? An int is an address."""

    kind: str  # pod->pod, pod->outside, outside->pod, with how it was drawn
    src: Pod | int
    dst: Pod | int
    protocol: Protocol
    port: int


def _name(endpoint: Pod | int) -> str:
    return format_range(endpoint, endpoint) if isinstance(endpoint, int) else endpoint.key


def _kind(src: Pod | int, dst: Pod | int) -> str:
    side = {True: "outside", False: "pod"}
    return f"{side[isinstance(src, int)]}->{side[isinstance(dst, int)]}"


class Sampler:
    """Draws probes: random, engine-targeted and rule-targeted (see the module docstring)."""

    def __init__(
        self, cluster: Cluster, evaluator: Evaluator, result: Connectivity, seed: int
    ) -> None:
        self.rng = random.Random(f"netpolicy-check:{seed}")
        self.evaluator = evaluator
        self.result = result
        self.pods: list[Pod] = list(cluster.pods)
        if not self.pods:
            raise ValueError("the cluster has no pods to probe")
        self.ports = interesting_ports(cluster, evaluator) or [80]
        self.ipv4 = [a for a in result.outside if a.ranges[0][0] < 1 << 32]
        self.infos: dict[int, PodInfo] = {}
        self.by_namespace: dict[str, list[Pod]] = {}
        for pod in self.pods:
            self.by_namespace.setdefault(pod.namespace, []).append(pod)
        # engine entries to start from (a class paired with itself needs two pods)
        self.entries = [
            (kind, key)
            for kind, table in self.tables().items()
            for key in table
            if kind != "pod->pod" or key[0] != key[1] or len(result.classes[key[0]].pods) > 1
        ]
        self.rules = [
            (cp, rule)
            for cp in evaluator.policies
            for direction in ("ingress", "egress")
            if cp.isolates(direction)  # type: ignore[arg-type]
            for rule in cp.rules(direction)  # type: ignore[arg-type]
        ]
        self.selected: dict[int, list[Pod]] = {}

    def tables(self) -> dict[str, dict[tuple[int, int], ConnectionSet]]:
        r = self.result
        return {
            "pod->pod": r.class_pairs,
            "pod->outside": r.to_outside,
            "outside->pod": r.from_outside,
        }

    def info(self, pod: Pod) -> PodInfo:
        found = self.infos.get(id(pod))
        if found is None:
            found = self.infos[id(pod)] = self.evaluator.pod_info(pod)
        return found

    def address_in(self, atom: IntervalSet) -> int:
        lo, hi = self.rng.choice(atom.ranges)
        return self.rng.randint(lo, hi)

    def address(self) -> int:
        if self.rng.random() < 0.5:
            return self.address_in(self.rng.choice(self.ipv4))
        return self.rng.randrange(1 << 32)

    def protocol(self) -> Protocol:
        return self.rng.choices(PROTOCOLS, weights=PROTOCOL_WEIGHTS)[0]

    def edge_port(self, conns: ConnectionSet) -> tuple[Protocol, int] | None:
        """A port at, next to or inside an open range of `conns`, or None if nothing is open."""
        open_ = [p for p in PROTOCOLS if conns.ports(p).ranges]
        if not open_:
            return None
        protocol = self.rng.choice(open_)
        lo, hi = self.rng.choice(conns.ports(protocol).ranges)
        port = self.rng.choice((lo, hi, lo - 1, hi + 1, self.rng.randint(lo, hi)))
        return protocol, min(max(port, 1), 65535)

    def draw(self) -> Probe:
        r = self.rng.random()
        probe = None
        if r < 0.25 and self.rules:
            probe = self.rule_targeted()
        elif r < 0.5 and self.entries:
            probe = self.engine_targeted()
        return probe or self.random()

    def random(self) -> Probe:
        rng = self.rng
        protocol = self.protocol()
        port = rng.choice(self.ports) if rng.random() < 0.5 else rng.randint(1, 65535)
        r = rng.random()
        src: Pod | int
        dst: Pod | int
        if r < 0.6 and len(self.pods) > 1:
            src, dst = rng.sample(self.pods, 2)
        elif r < 0.8:
            src, dst = rng.choice(self.pods), self.address()
        else:
            src, dst = self.address(), rng.choice(self.pods)
        return Probe(_kind(src, dst), src, dst, protocol, port)

    def engine_targeted(self) -> Probe:
        rng, classes, outside = self.rng, self.result.classes, self.result.outside
        kind, (x, y) = rng.choice(self.entries)
        conns = self.tables()[kind][(x, y)]
        edge = self.edge_port(conns) if rng.random() < 0.8 else None
        protocol, port = edge or (self.protocol(), rng.randint(1, 65535))
        src: Pod | int
        dst: Pod | int
        if kind == "pod->pod":
            src = dst = rng.choice(classes[x].pods)
            while dst is src:  # a class paired with itself has at least two pods
                dst = rng.choice(classes[y].pods)
        elif kind == "pod->outside":
            src, dst = rng.choice(classes[x].pods), self.address_in(outside[y])
        else:
            src, dst = self.address_in(outside[x]), rng.choice(classes[y].pods)
        return Probe(f"{kind} (engine-targeted)", src, dst, protocol, port)

    def rule_targeted(self) -> Probe | None:
        rng = self.rng
        cp, rule = rng.choice(self.rules)
        subjects = self.selected.get(id(cp))
        if subjects is None:
            ns_pods = self.by_namespace.get(cp.policy.namespace, [])
            subjects = self.selected[id(cp)] = [p for p in ns_pods if cp.selects(self.info(p))]
        if not subjects:
            return None
        subject = rng.choice(subjects)
        peer: Pod | int | None = None
        compiled = rng.choice(rule.peers) if rule.peers else None
        if compiled is not None and compiled.is_ip_block:
            peer = self.address_in(compiled.addresses)
        else:
            local = (
                compiled is not None
                and compiled.peer is not None
                and compiled.peer.namespace_selector is None
            )
            pool = self.by_namespace[cp.policy.namespace] if local else self.pods
            for _ in range(200):
                candidate = rng.choice(pool)
                if candidate is not subject and (
                    compiled is None or compiled.matches_pod(self.info(candidate))
                ):
                    peer = candidate
                    break
        if peer is None:
            return None
        src, dst = (peer, subject) if rule.direction == "ingress" else (subject, peer)
        edge = self.edge_port(rule.static_connections()) if rng.random() < 0.7 else None
        if edge is not None:
            protocol, port = edge
        elif isinstance(dst, Pod) and dst.ports and rng.random() < 0.8:
            cport = rng.choice(dst.ports)  # what named ports resolve to
            protocol, port = cport.protocol, cport.port
        else:
            protocol, port = self.protocol(), rng.randint(1, 65535)
        return Probe(f"{_kind(src, dst)} (rule-targeted)", src, dst, protocol, port)


def engine_answer(result: Connectivity, class_of: dict[int, int], probe: Probe) -> bool:
    """The engine's pod-level answer, looked up from the two endpoints alone."""
    src, dst = probe.src, probe.dst

    def outside_index(address: int) -> int:
        for i, atom in enumerate(result.outside):
            if address in atom:
                return i
        raise ValueError(f"address {format_range(address, address)} is in no outside range")

    if isinstance(src, int) and isinstance(dst, Pod):
        conns = result.from_outside.get((outside_index(src), class_of[id(dst)]))
    elif isinstance(src, Pod) and isinstance(dst, int):
        conns = result.to_outside.get((class_of[id(src)], outside_index(dst)))
    elif isinstance(src, Pod) and isinstance(dst, Pod):
        conns = result.class_pairs.get((class_of[id(src)], class_of[id(dst)]))
    else:
        raise ValueError(f"a probe between two addresses: {probe}")
    return conns is not None and conns.allows(probe.protocol, probe.port)


def check(
    cluster: Cluster,
    probes: int = 10_000,
    seed: int = 0,
    result: Connectivity | None = None,
    keep: int = 20,
) -> Agreement:
    """Compare `probes` probes; pass `result` to reuse a computed connectivity."""
    started = time.perf_counter()
    result = result or compute_connectivity(cluster)
    evaluator = Evaluator(cluster)  # independent of the engine's own evaluator
    sampler = Sampler(cluster, evaluator, result, seed)
    class_of = {id(p): c.index for c in result.classes for p in c.pods}
    out = Agreement()
    for _ in range(probes):
        probe = sampler.draw()
        engine = engine_answer(result, class_of, probe)
        a: Endpoint
        b: Endpoint
        a = (
            External(IntervalSet.span(probe.src, probe.src))
            if isinstance(probe.src, int)
            else sampler.info(probe.src)
        )
        b = (
            External(IntervalSet.span(probe.dst, probe.dst))
            if isinstance(probe.dst, int)
            else sampler.info(probe.dst)
        )
        decided = evaluator.decide(a, b, probe.protocol, probe.port).allowed
        out.probes += 1
        out.by_kind[probe.kind] = out.by_kind.get(probe.kind, 0) + 1
        if engine == decided:
            out.agree += 1
            out.allowed += engine
        elif len(out.mismatches) < keep:
            out.mismatches.append(
                Mismatch(
                    _name(probe.src), _name(probe.dst), probe.protocol, probe.port, engine, decided
                )
            )
    out.seconds = time.perf_counter() - started
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="cluster manifests (JSON or YAML)")
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cluster = load_input(args.files).cluster
    loaded = time.perf_counter() - started
    agreement = check(cluster, args.probes, args.seed)
    names = ", ".join(str(f) for f in args.files)
    print(f"{names}: {agreement.summary()}; loading took {loaded:.1f} s")
    for m in agreement.mismatches:
        print(f"  MISMATCH {m}")
    return 0 if agreement.ok else 1


if __name__ == "__main__":
    sys.exit(main())
