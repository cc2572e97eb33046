"""Hypothesis strategies for random clusters and policies (model values, no YAML)."""

from __future__ import annotations

from hypothesis import strategies as st

from netpolicy.model import (
    AdminPeer,
    AdminPort,
    AdminRule,
    Cluster,
    ClusterPolicy,
    ContainerPort,
    IPBlock,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    PolicyPort,
    Requirement,
    Rule,
    labels_of,
)

NAMESPACES = ("x", "y", "z")
KEYS = ("app", "tier")
VALUES = ("a", "b", "c")
PORT_NAMES = ("http", "dns")
PROTOS = ("TCP", "UDP", "SCTP")

label_maps = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)

requirements = st.builds(
    lambda key, op, values: Requirement(key, op, tuple(values) if op in ("In", "NotIn") else ()),
    st.sampled_from(KEYS),
    st.sampled_from(("In", "NotIn", "Exists", "DoesNotExist")),
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True),
)
selectors = st.builds(
    lambda ml, me: LabelSelector(labels_of(ml), tuple(me)),
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=1),
    st.lists(requirements, max_size=1),
)
ns_selectors = st.builds(
    lambda ml: LabelSelector(labels_of(ml)),
    st.dictionaries(st.just("team"), st.sampled_from(("red", "blue")), max_size=1),
)
cidrs = st.sampled_from(
    [
        ("10.0.0.0/16", ()),
        ("10.0.0.0/8", ("10.0.1.0/24",)),
        ("10.0.2.0/24", ("10.0.2.0/30",)),
        ("0.0.0.0/0", ("10.0.0.0/8",)),
        ("192.168.0.0/16", ()),
    ]
)
peers = st.one_of(
    st.builds(lambda s: Peer(pod_selector=s), selectors),
    st.builds(lambda s: Peer(namespace_selector=s), ns_selectors),
    st.builds(lambda p, n: Peer(pod_selector=p, namespace_selector=n), selectors, ns_selectors),
    st.builds(lambda c: Peer(ip_block=IPBlock(c[0], c[1])), cidrs),
)
ports = st.one_of(
    st.builds(lambda pr: PolicyPort(pr), st.sampled_from(PROTOS)),
    st.builds(
        lambda pr, n: PolicyPort(pr, n),
        st.sampled_from(PROTOS),
        st.sampled_from((53, 80, 81, 8080)),
    ),
    st.builds(
        lambda pr, n: PolicyPort(pr, n, n + 10), st.sampled_from(PROTOS), st.sampled_from((75, 80))
    ),
    st.builds(
        lambda pr, n: PolicyPort(pr, n), st.sampled_from(PROTOS), st.sampled_from(PORT_NAMES)
    ),
)
rules = st.builds(
    lambda ps, pts: Rule(tuple(ps), tuple(pts)),
    st.lists(peers, max_size=2),
    st.lists(ports, max_size=2),
)


@st.composite
def policies(draw: st.DrawFn, index: int) -> NetworkPolicy:
    types = draw(st.sampled_from((("Ingress",), ("Egress",), ("Ingress", "Egress"))))
    return NetworkPolicy(
        draw(st.sampled_from(NAMESPACES)),
        f"p{index}",
        draw(selectors),
        tuple(draw(st.lists(rules, max_size=2))) if "Ingress" in types else (),
        tuple(draw(st.lists(rules, max_size=2))) if "Egress" in types else (),
        types,  # type: ignore[arg-type]
    )


container_ports = st.lists(
    st.builds(
        lambda name, proto, port: ContainerPort(port, proto, name),
        st.sampled_from(PORT_NAMES),
        st.sampled_from(PROTOS),
        st.sampled_from((53, 80, 8080)),
    ),
    max_size=2,
    unique_by=lambda p: (p.name, p.protocol),
)


admin_peers = st.one_of(
    st.builds(lambda n: AdminPeer(namespace_selector=n), ns_selectors),
    st.builds(lambda n, p: AdminPeer(n, p), ns_selectors, selectors),
)
egress_admin_peers = st.one_of(
    admin_peers,
    st.builds(
        lambda c: AdminPeer(networks=c),
        st.sampled_from(
            [("10.0.0.0/16",), ("10.0.1.0/24", "192.168.1.0/28"), ("0.0.0.0/0",), ("10.0.2.3/32",)]
        ),
    ),
    st.just(AdminPeer(nodes=LabelSelector())),
)
admin_ports = st.one_of(
    st.builds(
        lambda pr, n: AdminPort(pr, n), st.sampled_from(PROTOS), st.sampled_from((53, 80, 8080))
    ),
    st.builds(
        lambda pr, n: AdminPort(pr, n, n + 10), st.sampled_from(PROTOS), st.sampled_from((75, 80))
    ),
    st.builds(lambda n: AdminPort(None, n), st.sampled_from(PORT_NAMES)),
)


@st.composite
def admin_rules(draw: st.DrawFn, egress: bool, actions: tuple[str, ...]) -> AdminRule:
    peers = draw(st.lists(egress_admin_peers if egress else admin_peers, min_size=1, max_size=2))
    ports = draw(st.lists(admin_ports, max_size=2))
    if any(p.networks or p.nodes is not None for p in peers):
        ports = [p for p in ports if isinstance(p.port, int)]  # the CRD forbids named ports there
    return AdminRule(draw(st.sampled_from(actions)), tuple(peers), tuple(ports))  # type: ignore[arg-type]


@st.composite
def cluster_policies(draw: st.DrawFn, index: int) -> ClusterPolicy:
    kind = draw(
        st.sampled_from(
            ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")
        )
    )
    if kind == "AdminNetworkPolicy":
        tier, actions = "Admin", ("Allow", "Deny", "Pass")
    elif kind == "BaselineAdminNetworkPolicy":
        tier, actions = "Baseline", ("Allow", "Deny")
    else:
        tier, actions = draw(st.sampled_from(("Admin", "Baseline"))), ("Accept", "Deny", "Pass")
    return ClusterPolicy(
        kind,  # type: ignore[arg-type]
        f"c{index}",
        tier,  # type: ignore[arg-type]
        0 if kind == "BaselineAdminNetworkPolicy" else draw(st.integers(0, 3)),
        draw(ns_selectors),
        draw(st.one_of(st.none(), selectors)),
        tuple(draw(st.lists(admin_rules(False, actions), max_size=3))),
        tuple(draw(st.lists(admin_rules(True, actions), max_size=3))),
    )


@st.composite
def clusters(draw: st.DrawFn, tiers: bool = False) -> Cluster:
    namespaces = tuple(
        Namespace(
            n,
            labels_of(
                draw(st.dictionaries(st.just("team"), st.sampled_from(("red", "blue")), max_size=1))
            ),
        )
        for n in NAMESPACES
    )
    n_pods = draw(st.integers(1, 7))
    pods = tuple(
        Pod(
            draw(st.sampled_from(NAMESPACES)),
            f"pod{i}",
            labels_of(draw(label_maps)),
            ip=draw(st.sampled_from((None, f"10.0.{i % 3}.{i + 1}", f"192.168.1.{i + 1}"))),
            ports=tuple(draw(container_ports)),
            host_network=tiers and draw(st.integers(0, 5)) == 0,
        )
        for i in range(n_pods)
    )
    n_pol = draw(st.integers(0, 4))
    pols = tuple(draw(policies(i)) for i in range(n_pol))
    admin = (
        tuple(draw(cluster_policies(i)) for i in range(draw(st.integers(1, 4)))) if tiers else ()
    )
    return Cluster(namespaces, pods, (), pols, cluster_policies=admin)
