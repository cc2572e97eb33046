"""`explain --suggest` on random clusters: the suggested YAML, applied, allows the connection
and exactly the extra connections it announced (connlist before and after, through the engine).

The YAML goes through the real loader, so what is checked is what a user would apply.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy import api
from netpolicy.analysis.blast import source_pods
from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import connection_list, pod_name
from netpolicy.generate import Suggestion
from netpolicy.load import load_text
from netpolicy.model import Cluster, IPBlock, LabelSelector, NetworkPolicy, Peer, Pod, Rule
from netpolicy.render.suggest import suggestion_yaml
from netpolicy.semantics import ConnectionSet, IntervalSet, parse_range

from ..strategies import NAMESPACES, PORT_NAMES, PROTOS, clusters

OUTSIDE = ("10.0.1.7", "192.168.1.50", "8.8.8.8", "2001:db8::7", "10.0.3.0-10.0.3.255")
TYPES = (("Ingress",), ("Egress",), ("Ingress", "Egress"))
PORTS = (53, 80, 81, 8080, 9000, *PORT_NAMES)

Pairs = dict[tuple[str, str], ConnectionSet]


def _apply(cluster: Cluster, yaml_text: str) -> Cluster:
    loaded = load_text(yaml_text, filename="suggestion.yaml")
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert not errors, errors
    policies: list[NetworkPolicy] = list(cluster.policies)
    for new in loaded.cluster.policies:
        keys = [p.key for p in policies]
        if new.key in keys:
            policies[keys.index(new.key)] = new
        else:
            policies.append(new)
    assert len(loaded.cluster.policies) >= 1
    return Cluster(cluster.namespaces, cluster.pods, cluster.workloads, tuple(policies))


NO_OP = NetworkPolicy(
    "netpolicy-test-no-pods",
    "cut-both-families",
    LabelSelector(),
    (),
    (Rule((Peer(ip_block=IPBlock("0.0.0.0/0")), Peer(ip_block=IPBlock("::/0")))),),
    ("Egress",),
)


def _with_both_families(cluster: Cluster) -> Cluster:
    assert not any(p.namespace == NO_OP.namespace for p in cluster.pods)
    return Cluster(cluster.namespaces, cluster.pods, cluster.workloads, (*cluster.policies, NO_OP))


def _pairs(cluster: Cluster, pieces: list[IntervalSet]) -> Pairs:
    """connlist at pod level; outside ranges expanded onto `pieces` (the finer cut after)."""
    out: Pairs = {}

    def names(name: str) -> list[str]:
        if "/" in name:
            return [name]
        whole = parse_range(name)
        return [_range_name(p) for p in pieces if p.is_subset(whole)]

    for c in connection_list(compute_connectivity(cluster), workloads=False):
        for s in names(c.src):
            for d in names(c.dst):
                out[s, d] = out.get((s, d), ConnectionSet.none()) | c.connections
    return out


def _range_name(piece: IntervalSet) -> str:
    from netpolicy.semantics import format_range

    lo, hi = piece.ranges[0]
    return format_range(lo, hi)


def _ends(cluster: Cluster, text: str, pieces: list[IntervalSet]) -> list[str]:
    """The pods a name stands for (all pods of a workload), or the outside pieces of an
    address."""
    if "/" in text or any(p.ip == text for p in cluster.pods):
        return [pod_name(p, False) for p in source_pods(cluster, text)[1]]
    whole = parse_range(text)
    return [_range_name(p) for p in pieces if p.is_subset(whole)]


def _number(pods: tuple[Pod, ...], key: str, protocol: str, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    pod = next((p for p in pods if p.key == key), None)
    if pod is None:
        return None
    return next((c.port for c in pod.ports if c.name == port and c.protocol == protocol), None)


def check(cluster: Cluster, src: str, dst: str, protocol: str, port: int | str) -> Suggestion:
    explained = api.explain(cluster, src, dst, protocol, port)  # type: ignore[arg-type]
    suggestion = api.suggest(cluster, src, dst, protocol, port, workloads=False)  # type: ignore[arg-type]
    if explained.decision.allowed:
        assert suggestion.status == "allowed"
        return suggestion
    if suggestion.status == "impossible":
        # only a port name the destination does not declare (or an outside one) blocks it
        assert isinstance(port, str), suggestion.reason
        assert explained.decision.port_number is None
        return suggestion
    assert suggestion.status == "suggested", suggestion.reason
    after_cluster = _apply(cluster, suggestion_yaml(suggestion))
    # Both sides cut the address space the same way, in both families: connlist names outside
    # ranges by the ipBlocks of its input, and before the change the input may not have
    # touched the family of an address the suggestion adds. A policy selecting no pod changes
    # no connection but cuts the space.
    cluster, after_cluster = _with_both_families(cluster), _with_both_families(after_cluster)
    pieces = compute_connectivity(after_cluster).outside
    before, after = _pairs(cluster, pieces), _pairs(after_cluster, pieces)
    removed = {k: before[k] - after.get(k, ConnectionSet.none()) for k in before}
    assert not {k: v for k, v in removed.items() if not v.is_empty()}, "the change cut traffic"
    added = {k: v - before.get(k, ConnectionSet.none()) for k, v in after.items()}
    added = {k: v for k, v in added.items() if not v.is_empty()}
    expected: Pairs = {(c.src, c.dst): c.connections for c in suggestion.extra}
    intended = ConnectionSet.none()
    for s in _ends(cluster, src, pieces):
        for d in _ends(cluster, dst, pieces):
            if s == d:
                continue
            number = _number(cluster.pods, d, protocol, port)
            assert number is not None
            intended = ConnectionSet.port(protocol, number)  # type: ignore[arg-type]
            assert after[s, d].allows(protocol, number), (s, d)  # type: ignore[arg-type]
            if not before.get((s, d), ConnectionSet.none()).allows(protocol, number):  # type: ignore[arg-type]
                expected[s, d] = expected.get((s, d), ConnectionSet.none()) | intended
    assert added == expected
    assert suggestion.precise == (not suggestion.extra)
    return suggestion


DEFAULT_DENIES = st.lists(
    st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(TYPES)), max_size=3, unique=True
)


def with_default_denies(cluster: Cluster, denies: list[tuple[str, tuple[str, ...]]]) -> Cluster:
    """Random clusters rarely deny in both directions: add `podSelector: {}` default denies."""
    extra = tuple(
        NetworkPolicy(ns, f"deny-{i}", LabelSelector(), (), (), types)  # type: ignore[arg-type]
        for i, (ns, types) in enumerate(denies)
    )
    return Cluster(cluster.namespaces, cluster.pods, cluster.workloads, cluster.policies + extra)


@settings(max_examples=300)
@given(
    clusters(),
    DEFAULT_DENIES,
    st.data(),
    st.sampled_from(PROTOS),
    st.sampled_from(PORTS),
)
def test_suggestion_opens_exactly_what_it_announces(cluster, denies, data, protocol, port):
    cluster = with_default_denies(cluster, denies)
    keys = [p.key for p in cluster.pods]
    src = data.draw(st.sampled_from([*keys, *OUTSIDE]), label="src")
    dst = data.draw(st.sampled_from([*keys, *OUTSIDE]), label="dst")
    if src in OUTSIDE and dst in OUTSIDE:
        return
    check(cluster, src, dst, protocol, port)
