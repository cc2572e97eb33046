"""Round trip: random clusters and random intents -> generate -> the connection list of the
cluster with the generated policies (their YAML through the real loader) equals the intents
plus DNS, exactly (pairs and ports); with --ingress-only, the ingress half. The expectation
is computed here from the intents alone, pod by pod, without the proof module."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from netpolicy import api
from netpolicy.generate.intents import Endpoint, Intent, IntentPort, Intents
from netpolicy.load import load_text
from netpolicy.model import (
    Cluster,
    ContainerPort,
    LabelSelector,
    Namespace,
    OwnerRef,
    Pod,
    labels_of,
)
from netpolicy.semantics import ConnectionSet, IntervalSet, address_atoms, network_set, parse_range

NAMESPACES = ("x", "y", "z")
CIDRS = ("10.0.0.0/16", "10.0.1.0/24", "192.168.0.0/16", "0.0.0.0/0", "2001:db8::/32")
PORT_NAMES = ("http", "dns")
DNS_POD = Pod(
    "kube-system",
    "coredns-1",
    labels_of({"k8s-app": "kube-dns"}),
    ip="10.0.9.9",
    ports=(ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns-tcp")),
)


@dataclass(frozen=True)
class World:
    cluster: Cluster
    workloads: tuple[tuple[str, str], ...]
    """(namespace, endpoint name): workloads (several pods) and bare pods."""


@st.composite
def worlds(draw: st.DrawFn) -> World:
    pods: list[Pod] = []
    names: list[tuple[str, str]] = []
    for w in range(draw(st.integers(1, 5))):
        ns = draw(st.sampled_from(NAMESPACES))
        name = f"w{w}"
        replicas = draw(st.integers(1, 3))
        owned = draw(st.booleans()) or replicas > 1
        tier = draw(st.sampled_from(("a", "b", None)))
        ports = tuple(
            draw(
                st.lists(
                    st.builds(
                        ContainerPort,
                        st.sampled_from((53, 80, 8080)),
                        st.sampled_from(("TCP", "UDP")),
                        st.sampled_from(PORT_NAMES),
                    ),
                    max_size=2,
                    unique_by=lambda p: (p.name, p.protocol),
                )
            )
        )
        for r in range(replicas if owned else 1):
            labels = {"app": name} | ({"tier": tier} if tier else {})
            if owned:
                labels["pod-template-hash"] = f"h{r % 2}"
            index = len(pods)
            ip = draw(
                st.sampled_from((None, f"10.0.{index % 3}.{index + 1}", f"192.168.1.{index + 1}"))
            )
            pods.append(
                Pod(
                    ns,
                    f"{name}-{r}" if owned else name,
                    labels_of(labels),
                    ip=ip,
                    ports=ports,
                    owner=OwnerRef("Deployment", name) if owned else None,
                )
            )
        names.append((ns, name))
    if draw(st.booleans()):
        pods.append(DNS_POD)
    namespaces = tuple(Namespace(n) for n in (*NAMESPACES, "kube-system"))
    return World(Cluster(namespaces, tuple(pods)), tuple(names))


def endpoints(world: World) -> st.SearchStrategy[Endpoint]:
    return st.one_of(
        st.sampled_from(world.workloads).map(lambda w: Endpoint("workload", w[0], w[1])),
        st.sampled_from(NAMESPACES).map(lambda ns: Endpoint("namespace", ns)),
        st.builds(
            lambda ns, t: Endpoint("selector", ns, selector=LabelSelector((("tier", t),))),
            st.sampled_from(NAMESPACES),
            st.sampled_from(("a", "b")),
        ),
        st.sampled_from(CIDRS).map(lambda c: Endpoint("cidr", cidr=c)),
    )


intent_ports = st.one_of(
    st.builds(IntentPort, st.sampled_from(("TCP", "UDP", "SCTP")), st.sampled_from((53, 80, 8080))),
    st.builds(
        lambda p, lo: IntentPort(p, lo, lo + 10),
        st.sampled_from(("TCP", "UDP")),
        st.sampled_from((75, 80)),
    ),
    st.builds(IntentPort, st.sampled_from(("TCP", "UDP"))),
    st.builds(IntentPort, st.sampled_from(("TCP", "UDP")), st.sampled_from(PORT_NAMES)),
    # a bare name: the port of that name on whatever protocol the destination declares it
    st.builds(lambda n: IntentPort("TCP", n, protocol_given=False), st.sampled_from(PORT_NAMES)),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[World, Intents]:
    world = draw(worlds())
    found: list[Intent] = []
    for i in range(draw(st.integers(0, 5))):
        src = draw(endpoints(world))
        dst = draw(endpoints(world))
        assume(not (src.is_outside and dst.is_outside))
        ports = tuple(draw(st.lists(intent_ports, max_size=3, unique=True)))
        if dst.is_outside:
            ports = tuple(p for p in ports if not p.is_named)
        found.append(Intent(src, dst, ports, i + 1))
    governed = tuple(draw(st.sampled_from((NAMESPACES, NAMESPACES[:2]))))
    return world, Intents(governed, tuple(found), draw(st.booleans()))


# ---------------------------------------------------------------- the expectation


def _contains(end: Endpoint, pod: Pod | None, piece: IntervalSet | None, *, peer: bool) -> bool:
    """Whether the endpoint holds the pod or outside range. A pod is in a CIDR endpoint only as
    a peer (an ipBlock matches its IP); no policy selects pods by address."""
    if end.kind == "cidr":
        if piece is not None:
            return piece.is_subset(network_set(end.cidr))
        assert pod is not None
        return (
            peer
            and pod.ip is not None
            and (ipaddress.ip_address(pod.ip) in ipaddress.ip_network(end.cidr))
        )
    if pod is None or pod.namespace != end.namespace:
        return False
    if end.kind == "namespace":
        return True
    if end.kind == "selector":
        return all(dict(pod.labels).get(k) == v for k, v in end.selector.match_labels)
    owner = pod.owner.name if pod.owner is not None else pod.name
    return owner == end.name


def _bare_names(intent: Intent, world: World) -> Intent:
    """A bare port name stands for that name on every protocol some pod of the destination
    declares it on (TCP when none does)."""
    ports: list[IntentPort] = []
    for p in intent.ports:
        if p.is_named and not p.protocol_given:
            pods = [q for q in world.cluster.pods if _contains(intent.dst, q, None, peer=False)]
            declared = {c.protocol for q in pods for c in q.ports if c.name == p.port}
            ports += [IntentPort(proto, p.port) for proto in sorted(declared) or ["TCP"]]
        else:
            ports.append(p)
    return Intent(intent.src, intent.dst, tuple(ports), intent.index)


def _ports(ports: tuple[IntentPort, ...], dst: Pod | None) -> ConnectionSet:
    if not ports:
        return ConnectionSet.all()
    out = ConnectionSet.none()
    for p in ports:
        if p.port is None:
            out = out | ConnectionSet.of(p.protocol)
        elif isinstance(p.port, str):
            for c in dst.ports if dst is not None else ():
                if c.name == p.port and c.protocol == p.protocol:
                    out = out | ConnectionSet.port(p.protocol, c.port)
        else:
            out = out | ConnectionSet.port(p.protocol, p.port, p.end_port or p.port)
    return out


def expected(
    world: World, intents: Intents, pieces: list[IntervalSet], *, ingress_only: bool, dns: bool
) -> dict[tuple[str, str], ConnectionSet]:
    governed = set(intents.namespaces)
    every = [_bare_names(i, world) for i in intents.intents]
    if dns:
        dns_end = Endpoint(
            "selector", "kube-system", selector=LabelSelector((("k8s-app", "kube-dns"),))
        )
        every += [
            Intent(
                Endpoint("namespace", ns), dns_end, (IntentPort("UDP", 53), IntentPort("TCP", 53))
            )
            for ns in governed
        ]
    ends: list[tuple[str, Pod | None, IntervalSet | None]] = [
        (p.key, p, None) for p in world.cluster.pods
    ] + [(_range_name(r), None, r) for r in pieces]
    out: dict[tuple[str, str], ConnectionSet] = {}

    def union(
        a: tuple[Pod | None, IntervalSet | None],
        b: tuple[Pod | None, IntervalSet | None],
        a_peer: bool,
        b_peer: bool,
    ) -> ConnectionSet:
        want = ConnectionSet.none()
        for i in every:
            if _contains(i.src, *a, peer=a_peer) and _contains(i.dst, *b, peer=b_peer):
                want = want | _ports(i.ports, b[0])
        return want

    for a_name, a_pod, a_piece in ends:
        for b_name, b_pod, b_piece in ends:
            if a_name == b_name or (a_pod is None and b_pod is None):
                continue
            a_gov = a_pod is not None and a_pod.namespace in governed
            b_gov = b_pod is not None and b_pod.namespace in governed
            a, b = (a_pod, a_piece), (b_pod, b_piece)
            # what the generated egress of a allows, and the generated ingress of b admits;
            # an end the intents do not govern has no policy here: open
            egress = union(a, b, False, True) if a_gov and not ingress_only else ConnectionSet.all()
            ingress = union(a, b, True, False) if b_gov else ConnectionSet.all()
            if ingress_only and not b_gov:
                continue
            if not (a_gov or b_gov):
                continue
            want = egress & ingress
            if not want.is_empty():
                out[a_name, b_name] = want
    return out


def _range_name(r: IntervalSet) -> str:
    from netpolicy.semantics import format_range

    lo, hi = r.ranges[0]
    return format_range(lo, hi)


def actual(
    cluster: Cluster, governed: set[str], *, ingress_only: bool
) -> dict[tuple[str, str], ConnectionSet]:
    by_name = {p.key: p for p in cluster.pods}
    out: dict[tuple[str, str], ConnectionSet] = {}
    for c in api.connlist(cluster, workloads=False):
        a, b = by_name.get(c.src), by_name.get(c.dst)
        a_gov = a is not None and a.namespace in governed
        b_gov = b is not None and b.namespace in governed
        if ingress_only and not b_gov:
            continue
        if not (a_gov or b_gov):
            continue
        out[c.src, c.dst] = c.connections
    return out


def _apply(world: World, text: str, governed: set[str]) -> Cluster:
    loaded = load_text(text, filename="generated.yaml")
    assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
    kept = tuple(p for p in world.cluster.policies if p.namespace not in governed)
    return Cluster(
        world.cluster.namespaces,
        world.cluster.pods,
        world.cluster.workloads,
        kept + loaded.cluster.policies,
    )


def _pieces(cluster: Cluster) -> list[IntervalSet]:
    blocks = [
        network_set(peer.ip_block.cidr)
        for p in cluster.policies
        for r in (*p.ingress, *p.egress)
        for peer in r.peers
        if peer.ip_block is not None
    ]
    return address_atoms(blocks)


def _check(world: World, intents: Intents, *, ingress_only: bool, no_dns: bool) -> None:
    generated = api.generate(intents, world.cluster, ingress_only=ingress_only, dns=not no_dns)
    errors = [d for d in generated.diagnostics if d.severity == "error"]
    if errors:
        # the only refusal for these worlds: a named port no destination pod declares
        assert all("declares" in d.message for d in errors), errors
        return
    assert generated.proof is not None and generated.proof.ok, generated.proof.mismatches[:3]
    governed = set(intents.namespaces)
    final = _apply(world, generated.text(), governed)
    got = actual(final, governed, ingress_only=ingress_only)
    dns = intents.dns and not no_dns
    want = expected(world, intents, _pieces(final), ingress_only=ingress_only, dns=dns)
    assert got == want, _difference(got, want)


def _difference(
    got: dict[tuple[str, str], ConnectionSet], want: dict[tuple[str, str], ConnectionSet]
) -> str:
    lines = []
    for key in sorted(set(got) | set(want)):
        g, w = got.get(key), want.get(key)
        if g != w:
            lines.append(
                f"{key[0]} => {key[1]}: allowed {g.describe() if g else '-'}, intended "
                f"{w.describe() if w else '-'}"
            )
    return "\n".join(lines[:10])


@settings(max_examples=150)
@given(cases(), st.booleans())
def test_generated_policies_allow_exactly_the_intents(
    case: tuple[World, Intents], no_dns: bool
) -> None:
    world, intents = case
    _check(world, intents, ingress_only=False, no_dns=no_dns)


@settings(max_examples=100)
@given(cases())
def test_ingress_only_allows_exactly_the_ingress_half(case: tuple[World, Intents]) -> None:
    world, intents = case
    _check(world, intents, ingress_only=True, no_dns=False)


def test_parse_range_names_round_trip() -> None:
    assert parse_range("10.0.0.0-10.0.0.255") == network_set("10.0.0.0/24")
