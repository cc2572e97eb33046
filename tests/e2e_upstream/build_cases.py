#!/usr/bin/env python3
"""Generate the upstream-derived NetworkPolicy connectivity corpus.

Every case below re-expresses one ``f.It(...)`` of kubernetes/kubernetes
``test/e2e/network/netpol/network_policy.go`` (Apache-2.0) as static data:

* the 9-pod model (namespaces x, y, z; pods a, b, c; ports 80/81 on TCP, UDP, SCTP),
* the NetworkPolicies the test creates, built the way the upstream builders
  (``GenNetworkPolicyWithNameAndPodSelector``, ``SetSpecIngressRules`` ...) build them,
* the expected reachability matrix of every ``ValidateOrFail`` probe, written with the
  same calls upstream uses (``NewReachability``, ``ExpectPeer``, ``ExpectAllIngress``,
  ``ExpectAllEgress``, ``Expect``).

Tests that change state between probes (update/delete a policy, relabel a pod or a
namespace, add a second policy) become one case folder per stage (``-step1``, ``-step2``).

Run ``python3 tests/e2e_upstream/build_cases.py`` to (re)write ``cases/``. The output is
deterministic; the script deletes and rewrites only ``tests/e2e_upstream/cases/``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"

# --------------------------------------------------------------------------------------
# The model (mirrors model.go: NewModel(["x","y","z"], ["a","b","c"], ports, protocols))
# --------------------------------------------------------------------------------------

NAMESPACES = ["x", "y", "z"]
POD_NAMES = ["a", "b", "c"]
ALL_PODS = [f"{ns}/{p}" for ns in NAMESPACES for p in POD_NAMES]
POD_IPS = {
    f"{ns}/{p}": f"10.0.{i + 1}.{j + 1}"
    for i, ns in enumerate(NAMESPACES)
    for j, p in enumerate(POD_NAMES)
}
# Every pod serves every (port, protocol) in this corpus, one container each, in the
# order model.go creates them (ports outer loop, protocols inner loop). Upstream creates
# only the (port, protocol) containers a given test probes; serving all six everywhere
# changes no expectation of any case (named ports resolve identically).
MODEL_PORTS = [80, 81]
MODEL_PROTOCOLS = ["TCP", "UDP", "SCTP"]
AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"

NS_LABEL_KEY = "kubernetes.io/metadata.name"  # namespaceLabelKey / v1.LabelMetadataName

TCP, UDP, SCTP = "TCP", "UDP", "SCTP"

CTX_TCP = "NetworkPolicy between server and client"
CTX_UDP = "NetworkPolicy between server and client using UDP"
CTX_SCTP = "NetworkPolicy between server and client using SCTP"

# podServerCIDR / makeLargeCIDRForIP, reproduced with the static pod IPs.
# /32 of a pod IP is the upstream hostMask form; makeLargeCIDRForIP(10.0.1.2) is the /4
# containing it, i.e. 0.0.0.0/4 (the older revision wrote the same block as "<podIP>/4").
LARGE_CIDR_AROUND_X_B = "0.0.0.0/4"


def host_cidr(pod: str) -> str:
    return f"{POD_IPS[pod]}/32"


# --------------------------------------------------------------------------------------
# Reachability (mirrors reachability.go)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """reachability.Peer: empty namespace / pod matches everything."""

    namespace: str = ""
    pod: str = ""

    def matches(self, pod: str) -> bool:
        ns, name = pod.split("/")
        return (self.namespace in ("", ns)) and (self.pod in ("", name))


class Reachability:
    """NewReachability(allPods, default) with the upstream Expect* mutators."""

    def __init__(self, default: bool) -> None:
        self.expected = {(f, t): default for f in ALL_PODS for t in ALL_PODS}

    def expect(self, frm: str, to: str, connected: bool) -> Reachability:
        self.expected[(frm, to)] = connected
        return self

    def expect_all_ingress(self, pod: str, connected: bool) -> Reachability:
        for frm in ALL_PODS:
            self.expected[(frm, pod)] = connected
        return self

    def expect_all_egress(self, pod: str, connected: bool) -> Reachability:
        for to in ALL_PODS:
            self.expected[(pod, to)] = connected
        return self

    def expect_peer(self, frm: Peer, to: Peer, connected: bool) -> Reachability:
        for f in ALL_PODS:
            if frm.matches(f):
                for t in ALL_PODS:
                    if to.matches(t):
                        self.expected[(f, t)] = connected
        return self


def reach(default: bool = True) -> Reachability:
    return Reachability(default)


# --------------------------------------------------------------------------------------
# Policy builders (mirror policies.go / k8s_util.go SetFunc builders)
#
# A policy is built as a dict in the shape of networkingv1.NetworkPolicy as the Go client
# would put it on the wire: empty slices and maps tagged omitempty are dropped (so
# SetSpecIngressRules() with no rule yields policyTypes [Ingress] and no ingress field),
# while a non-nil pointer to an empty LabelSelector stays as {}.
# --------------------------------------------------------------------------------------

SetFunc = Callable[[dict[str, Any]], None]


def gen_policy(name: str, pod_selector: dict[str, Any], *setters: SetFunc) -> dict[str, Any]:
    """GenNetworkPolicyWithNameAndPodSelector(name, selector, setters...)."""
    pol: dict[str, Any] = {
        "name": name,
        "podSelector": pod_selector,
        "ingress": None,
        "egress": None,
        "policyTypes": [],
    }
    for s in setters:
        s(pol)
    return pol


def gen_policy_match_label(name: str, labels: dict[str, str], *setters: SetFunc) -> dict[str, Any]:
    """GenNetworkPolicyWithNameAndPodMatchLabel(name, labels, setters...)."""
    return gen_policy(name, match_labels(labels), *setters)


def ingress_rules(*rules: dict[str, Any]) -> SetFunc:
    """SetSpecIngressRules(rules...)."""

    def setter(pol: dict[str, Any]) -> None:
        if pol["ingress"] is None:
            pol["ingress"] = []
            pol["policyTypes"].append("Ingress")
        pol["ingress"].extend(rules)

    return setter


def egress_rules(*rules: dict[str, Any]) -> SetFunc:
    """SetSpecEgressRules(rules...)."""

    def setter(pol: dict[str, Any]) -> None:
        if pol["egress"] is None:
            pol["egress"] = []
            pol["policyTypes"].append("Egress")
        pol["egress"].extend(rules)

    return setter


def match_labels(labels: dict[str, str]) -> dict[str, Any]:
    """metav1.LabelSelector{MatchLabels: labels} (an empty map is omitted => {})."""
    return {"matchLabels": dict(labels)} if labels else {}


def match_expr(key: str, operator: str, values: list[str]) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


def peer(
    pod_selector: dict[str, Any] | None = None,
    namespace_selector: dict[str, Any] | None = None,
    ip_block: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if pod_selector is not None:
        out["podSelector"] = pod_selector
    if namespace_selector is not None:
        out["namespaceSelector"] = namespace_selector
    if ip_block is not None:
        out["ipBlock"] = ip_block
    return out


def ip_block(cidr: str, except_: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"cidr": cidr}
    if except_:
        out["except"] = list(except_)
    return out


def port(
    port_: int | str | None = None, protocol: str | None = None, end_port: int | None = None
) -> dict[str, Any]:
    """networkingv1.NetworkPolicyPort; protocol left out when upstream leaves it nil."""
    out: dict[str, Any] = {}
    if protocol is not None:
        out["protocol"] = protocol
    if port_ is not None:
        out["port"] = port_
    if end_port is not None:
        out["endPort"] = end_port
    return out


def in_rule(
    from_: list[dict[str, Any]] | None = None, ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ports:
        out["ports"] = ports
    if from_:
        out["from"] = from_
    return out


def eg_rule(
    to: list[dict[str, Any]] | None = None, ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ports:
        out["ports"] = ports
    if to:
        out["to"] = to
    return out


# --------------------------------------------------------------------------------------
# Case description
# --------------------------------------------------------------------------------------


@dataclass
class Probe:
    port: int
    protocol: str
    reachability: Reachability


@dataclass
class Step:
    # (namespace, policy) in creation order
    policies: list[tuple[str, dict[str, Any]]]
    probes: list[Probe]
    # extra labels merged onto the base labels (AddNamespaceLabel / AddPodLabels)
    ns_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    pod_labels: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Case:
    slug: str
    upstream: str
    context: str
    steps: list[Step]


def X(pod: str) -> str:
    return f"x/{pod}"


def Y(pod: str) -> str:
    return f"y/{pod}"


def Z(pod: str) -> str:
    return f"z/{pod}"


NS_X, NS_Y, NS_Z = Peer("x"), Peer("y"), Peer("z")
ANY = Peer()


def build_cases() -> list[Case]:
    cases: list[Case] = []

    def add(slug: str, upstream: str, steps: list[Step], context: str = CTX_TCP) -> None:
        cases.append(Case(slug, upstream, context, steps))

    # ---- Context: NetworkPolicy between server and client ------------------------------

    add(
        "default-deny-ingress",
        "should support a 'default-deny-ingress' policy",
        [
            Step(
                [("x", gen_policy("deny-ingress", {}, ingress_rules()))],
                [Probe(80, TCP, reach().expect_peer(ANY, NS_X, False))],
            )
        ],
    )

    add(
        "default-deny-all",
        "should support a 'default-deny-all' policy",
        [
            Step(
                [("x", gen_policy("deny-all", {}, ingress_rules(), egress_rules()))],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_peer(ANY, NS_X, False).expect_peer(NS_X, ANY, False),
                    )
                ],
            )
        ],
    )

    add(
        "podselector-within-server-namespace",
        "should enforce policy to allow traffic from pods within server namespace based on "
        "PodSelector",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "x-a-allows-x-b",
                            {"pod": "a"},
                            ingress_rules(in_rule([peer(pod_selector=match_labels({"pod": "b"}))])),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_all_ingress(X("a"), False).expect(X("b"), X("a"), True),
                    )
                ],
            )
        ],
    )

    add(
        "allow-ingress-for-a-target",
        "should enforce policy to allow ingress traffic for a target",
        [
            Step(
                [
                    ("x", gen_policy("deny-all", {}, ingress_rules())),
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-all-to-a",
                            {"pod": "a"},
                            ingress_rules(in_rule([peer(pod_selector={}, namespace_selector={})])),
                        ),
                    ),
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_all_ingress(X("a"), True)
                        .expect_all_ingress(X("b"), False)
                        .expect_all_ingress(X("c"), False),
                    )
                ],
            )
        ],
    )

    add(
        "allow-ingress-from-all-namespaces",
        "should enforce policy to allow ingress traffic from pods in all namespaces",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-from-another-ns",
                            {"pod": "a"},
                            ingress_rules(in_rule([peer(namespace_selector=match_labels({}))])),
                        ),
                    )
                ],
                [Probe(80, TCP, reach())],
            )
        ],
    )

    add(
        "only-from-different-namespace-nsselector",
        "should enforce policy to allow traffic only from a different namespace, based on "
        "NamespaceSelector",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-client-a-via-ns-selector",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule(
                                    [peer(namespace_selector=match_labels({NS_LABEL_KEY: "y"}))]
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_peer(NS_X, Peer("x", "a"), False)
                        .expect_peer(NS_Z, Peer("x", "a"), False),
                    )
                ],
            )
        ],
    )

    add(
        "podselector-match-expressions",
        "should enforce policy based on PodSelector with MatchExpressions",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "x-a-allows-x-b",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule([peer(pod_selector=match_expr("pod", "In", ["b"]))])
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_all_ingress(X("a"), False).expect(X("b"), X("a"), True),
                    )
                ],
            )
        ],
    )

    add(
        "nsselector-match-expressions",
        "should enforce policy based on NamespaceSelector with MatchExpressions",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-ns-y-match-selector",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule(
                                    [peer(namespace_selector=match_expr(NS_LABEL_KEY, "In", ["y"]))]
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_peer(NS_X, Peer("x", "a"), False)
                        .expect_peer(NS_Z, Peer("x", "a"), False),
                    )
                ],
            )
        ],
    )

    add(
        "podselector-or-nsselector",
        "should enforce policy based on PodSelector or NamespaceSelector",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-ns-y-match-selector",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule(
                                    [
                                        peer(
                                            namespace_selector=match_expr(
                                                NS_LABEL_KEY, "NotIn", ["x"]
                                            )
                                        ),
                                        peer(pod_selector=match_labels({"pod": "b"})),
                                    ]
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect(X("a"), X("a"), False).expect(X("c"), X("a"), False),
                    )
                ],
            )
        ],
    )

    add(
        "podselector-and-nsselector",
        "should enforce policy based on PodSelector and NamespaceSelector",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-ns-y-podselector-and-nsselector",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule(
                                    [
                                        peer(
                                            namespace_selector=match_expr(
                                                NS_LABEL_KEY, "NotIn", ["x"]
                                            ),
                                            pod_selector=match_labels({"pod": "b"}),
                                        )
                                    ]
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_all_ingress(X("a"), False)
                        .expect(Y("b"), X("a"), True)
                        .expect(Z("b"), X("a"), True),
                    )
                ],
            )
        ],
    )

    add(
        "multiple-podselectors-and-nsselectors",
        "should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-ns-y-z-pod-b-c",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule(
                                    [
                                        peer(
                                            namespace_selector=match_expr(
                                                NS_LABEL_KEY, "NotIn", ["x"]
                                            ),
                                            pod_selector=match_expr("pod", "In", ["b", "c"]),
                                        )
                                    ]
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_peer(NS_X, Peer("x", "a"), False)
                        .expect(Y("a"), X("a"), False)
                        .expect(Z("a"), X("a"), False),
                    )
                ],
            )
        ],
    )

    add(
        "any-podselectors",
        "should enforce policy based on any PodSelectors",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-ns-x-pod-b-c",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule(
                                    [
                                        peer(pod_selector=match_labels({"pod": "b"})),
                                        peer(pod_selector=match_labels({"pod": "c"})),
                                    ]
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_all_ingress(X("a"), False)
                        .expect(X("b"), X("a"), True)
                        .expect(X("c"), X("a"), True),
                    )
                ],
            )
        ],
    )

    def pod_in_other_ns_policy() -> dict[str, Any]:
        return gen_policy_match_label(
            "allow-ns-y-pod-a-via-namespace-pod-selector",
            {"pod": "a"},
            ingress_rules(
                in_rule(
                    [
                        peer(
                            namespace_selector=match_labels({NS_LABEL_KEY: "y"}),
                            pod_selector=match_labels({"pod": "a"}),
                        )
                    ]
                )
            ),
        )

    def pod_in_other_ns_reach() -> Reachability:
        return reach().expect_all_ingress(X("a"), False).expect(Y("a"), X("a"), True)

    add(
        "pod-in-different-namespace",
        "should enforce policy to allow traffic only from a pod in a different namespace based "
        "on PodSelector and NamespaceSelector",
        [Step([("x", pod_in_other_ns_policy())], [Probe(80, TCP, pod_in_other_ns_reach())])],
    )

    def ns_y_on_port_81(name: str, protocol: str) -> dict[str, Any]:
        return gen_policy_match_label(
            name,
            {"pod": "a"},
            ingress_rules(
                in_rule(
                    [peer(namespace_selector=match_labels({NS_LABEL_KEY: "y"}))],
                    [port(81, protocol)],
                )
            ),
        )

    def ns_y_on_port_reach() -> Reachability:
        return (
            reach()
            .expect_peer(NS_X, Peer("x", "a"), False)
            .expect_peer(NS_Y, Peer("x", "a"), True)
            .expect_peer(NS_Z, Peer("x", "a"), False)
        )

    add(
        "ports",
        "should enforce policy based on Ports",
        [
            Step(
                [("x", ns_y_on_port_81("allow-client-a-via-ns-selector", TCP))],
                [Probe(81, TCP, ns_y_on_port_reach())],
            )
        ],
    )

    allow_port_80 = gen_policy_match_label(
        "allow-client-a-via-ns-selector-80",
        {"pod": "a"},
        ingress_rules(
            in_rule(
                [peer(namespace_selector=match_labels({NS_LABEL_KEY: "y"}))],
                [port(80, TCP)],
            )
        ),
    )
    add(
        "stacked-policies-overlapping-podselectors",
        "should enforce multiple, stacked policies with overlapping podSelectors",
        [
            Step(
                [("x", ns_y_on_port_81("allow-client-a-via-ns-selector", TCP))],
                [
                    Probe(81, TCP, ns_y_on_port_reach()),
                    Probe(80, TCP, reach().expect_all_ingress(X("a"), False)),
                ],
            ),
            Step(
                [
                    ("x", ns_y_on_port_81("allow-client-a-via-ns-selector", TCP)),
                    ("x", allow_port_80),
                ],
                [Probe(80, TCP, ns_y_on_port_reach())],
            ),
        ],
    )

    add(
        "allow-all",
        "should support allow-all policy",
        [
            Step(
                [("x", gen_policy_match_label("allow-all", {}, ingress_rules(in_rule())))],
                [Probe(80, TCP, reach()), Probe(81, TCP, reach())],
            )
        ],
    )

    add(
        "ingress-one-named-port",
        "should allow ingress access on one named port",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-all", {}, ingress_rules(in_rule(ports=[port("serve-81-tcp")]))
                        ),
                    )
                ],
                [
                    Probe(81, TCP, reach()),
                    Probe(80, TCP, reach().expect_peer(ANY, NS_X, False)),
                ],
            )
        ],
    )

    add(
        "ingress-from-namespace-one-named-port",
        "should allow ingress access from namespace on one named port",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-client-a-via-ns-selector-80",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule(
                                    [peer(namespace_selector=match_labels({NS_LABEL_KEY: "y"}))],
                                    [port("serve-80-tcp", TCP)],
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_peer(NS_X, Peer("x", "a"), False)
                        .expect_peer(NS_Z, Peer("x", "a"), False),
                    ),
                    Probe(81, TCP, reach().expect_all_ingress(X("a"), False)),
                ],
            )
        ],
    )

    add(
        "egress-one-named-port",
        "should allow egress access on one named port",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-egress", {}, egress_rules(eg_rule(ports=[port("serve-80-tcp")]))
                        ),
                    )
                ],
                [
                    Probe(80, TCP, reach()),
                    Probe(81, TCP, reach().expect_peer(NS_X, ANY, False)),
                ],
            )
        ],
    )

    # part 2 mutates the same object: policy.Spec.Ingress = [] then UpdatePolicy
    updated = gen_policy_match_label("allow-all-mutate-to-deny-all", {}, ingress_rules(in_rule()))
    updated_deny = dict(updated, ingress=[])
    add(
        "updated-policy",
        "should enforce updated policy",
        [
            Step([("x", updated)], [Probe(81, TCP, reach())]),
            Step([("x", updated_deny)], [Probe(81, TCP, reach().expect_peer(ANY, NS_X, False))]),
        ],
    )

    ns2_policy = gen_policy_match_label(
        "allow-client-a-via-ns-selector",
        {"pod": "a"},
        ingress_rules(in_rule([peer(namespace_selector=match_labels({"ns2": "updated"}))])),
    )
    add(
        "ingress-from-updated-namespace",
        "should allow ingress access from updated namespace",
        [
            Step([("x", ns2_policy)], [Probe(80, TCP, reach().expect_all_ingress(X("a"), False))]),
            Step(
                [("x", ns2_policy)],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_all_ingress(X("a"), False).expect_peer(NS_Y, ANY, True),
                    )
                ],
                ns_labels={"y": {"ns2": "updated"}},
            ),
        ],
    )

    pod2_labels = {"pod": "b", "pod2": "updated"}
    pod2_policy = gen_policy_match_label(
        "allow-client-a-via-pod-selector",
        {"pod": "a"},
        ingress_rules(in_rule([peer(pod_selector=match_labels(pod2_labels))])),
    )
    add(
        "ingress-from-updated-pod",
        "should allow ingress access from updated pod",
        [
            Step([("x", pod2_policy)], [Probe(80, TCP, reach().expect_all_ingress(X("a"), False))]),
            Step(
                [("x", pod2_policy)],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_all_ingress(X("a"), False).expect(X("b"), X("a"), True),
                    )
                ],
                pod_labels={"x/b": pod2_labels},
            ),
        ],
    )

    add(
        "deny-ingress-from-other-namespaces",
        "should deny ingress from pods on other namespaces",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy(
                            "deny-empty-policy",
                            {},
                            ingress_rules(in_rule([peer(pod_selector=match_labels({}))])),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_peer(NS_Y, NS_X, False).expect_peer(NS_Z, NS_X, False),
                    )
                ],
            )
        ],
    )

    isolate = gen_policy(
        "deny-ingress-via-label-selector", match_labels({"target": "isolated"}), ingress_rules()
    )
    add(
        "deny-ingress-to-updated-pod",
        "should deny ingress access to updated pod",
        [
            Step([("x", isolate)], [Probe(80, TCP, reach())]),
            Step(
                [("x", isolate)],
                [Probe(80, TCP, reach().expect_all_ingress(X("a"), False))],
                pod_labels={"x/a": {"target": "isolated"}},
            ),
        ],
    )

    add(
        "deny-egress-podselector",
        "should deny egress from pods based on PodSelector",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy("deny-egress-pod-a", match_labels({"pod": "a"}), egress_rules()),
                    )
                ],
                [Probe(80, TCP, reach().expect_all_egress(X("a"), False))],
            )
        ],
    )

    add(
        "deny-egress-all-pods-in-namespace",
        "should deny egress from all pods in a namespace",
        [
            Step(
                [("x", gen_policy("deny-egress-ns-x", {}, egress_rules()))],
                [Probe(80, TCP, reach().expect_peer(NS_X, ANY, False))],
            )
        ],
    )

    together = gen_policy_match_label(
        "allow-client-a-via-pod-selector",
        {"pod": "a"},
        ingress_rules(in_rule([peer(pod_selector=match_labels({"pod": "b"}))])),
    )
    # policy.Spec.Egress = [{Ports: [{Port: 80}]}]; policy.Spec.PolicyTypes = [Egress, Ingress]
    together["egress"] = [eg_rule(ports=[port(80)])]
    together["policyTypes"] = ["Egress", "Ingress"]
    add(
        "ingress-egress-together",
        "should work with Ingress, Egress specified together",
        [
            Step(
                [("x", together)],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_all_ingress(X("a"), False).expect(X("b"), X("a"), True),
                    ),
                    Probe(
                        81,
                        TCP,
                        reach()
                        .expect_all_ingress(X("a"), False)
                        .expect_all_egress(X("a"), False)
                        .expect(X("b"), X("a"), True),
                    ),
                ],
            )
        ],
    )

    from_xa = in_rule(
        [
            peer(
                namespace_selector=match_labels({NS_LABEL_KEY: "x"}),
                pod_selector=match_labels({"pod": "a"}),
            )
        ]
    )
    add(
        "deny-egress-client-side-despite-server-allow",
        "should support denying of egress traffic on the client side (even if the server "
        "explicitly allows this traffic)",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-to-ns-y-pod-a",
                            {"pod": "a"},
                            egress_rules(
                                eg_rule(
                                    [
                                        peer(
                                            namespace_selector=match_labels({NS_LABEL_KEY: "y"}),
                                            pod_selector=match_labels({"pod": "a"}),
                                        )
                                    ]
                                )
                            ),
                        ),
                    ),
                    (
                        "y",
                        gen_policy_match_label(
                            "allow-from-xa-on-ya-match-selector",
                            {"pod": "a"},
                            ingress_rules(from_xa),
                        ),
                    ),
                    (
                        "y",
                        gen_policy_match_label(
                            "allow-from-xa-on-yb-match-selector",
                            {"pod": "b"},
                            ingress_rules(from_xa),
                        ),
                    ),
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_peer(Peer("x", "a"), ANY, False)
                        .expect_peer(ANY, Peer("y", "a"), False)
                        .expect_peer(Peer("x", "a"), Peer("y", "a"), True)
                        .expect_peer(ANY, Peer("y", "b"), False),
                    )
                ],
            )
        ],
    )

    add(
        "egress-to-pod-in-other-namespace",
        "should enforce egress policy allowing traffic to a server in a different namespace "
        "based on PodSelector and NamespaceSelector",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-to-ns-y-pod-a",
                            {"pod": "a"},
                            egress_rules(
                                eg_rule(
                                    [
                                        peer(
                                            namespace_selector=match_labels({NS_LABEL_KEY: "y"}),
                                            pod_selector=match_labels({"pod": "a"}),
                                        )
                                    ]
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_all_egress(X("a"), False).expect(X("a"), Y("a"), True),
                    )
                ],
            )
        ],
    )

    add(
        "ingress-any-port-specific-protocol",
        "should enforce ingress policy allowing any port traffic to a server on a specific "
        "protocol",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-ingress-by-proto",
                            {"pod": "a"},
                            ingress_rules(in_rule(ports=[port(protocol=TCP)])),
                        ),
                    )
                ],
                [
                    Probe(80, TCP, reach()),
                    Probe(80, UDP, reach().expect_peer(ANY, Peer("x", "a"), False)),
                ],
            )
        ],
    )

    only_80_in = gen_policy_match_label(
        "allow-ingress-port-80", {}, ingress_rules(in_rule(ports=[port(80)]))
    )
    add(
        "multiple-ingress-allow-all-precedence",
        "should enforce multiple ingress policies with ingress allow-all policy taking precedence",
        [
            Step([("x", only_80_in)], [Probe(81, TCP, reach().expect_peer(ANY, NS_X, False))]),
            Step(
                [
                    ("x", only_80_in),
                    ("x", gen_policy_match_label("allow-ingress", {}, ingress_rules(in_rule()))),
                ],
                [Probe(81, TCP, reach())],
            ),
        ],
    )

    only_80_eg = gen_policy_match_label(
        "allow-egress-port-80", {}, egress_rules(eg_rule(ports=[port(80)]))
    )
    add(
        "multiple-egress-allow-all-precedence",
        "should enforce multiple egress policies with egress allow-all policy taking precedence",
        [
            Step([("x", only_80_eg)], [Probe(81, TCP, reach().expect_peer(NS_X, ANY, False))]),
            Step(
                [
                    ("x", only_80_eg),
                    ("x", gen_policy_match_label("allow-egress", {}, egress_rules(eg_rule()))),
                ],
                [Probe(81, TCP, reach())],
            ),
        ],
    )

    add(
        "stop-enforcing-after-delete",
        "should stop enforcing policies after they are deleted",
        [
            Step(
                [("x", gen_policy("deny-all", {}, ingress_rules(), egress_rules()))],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_peer(NS_X, ANY, False).expect_peer(ANY, NS_X, False),
                    )
                ],
            ),
            # k8s.cleanNetworkPolicies(): every policy deleted
            Step([], [Probe(80, TCP, reach())]),
        ],
    )

    add(
        "egress-to-server-in-cidr-block",
        "should allow egress access to server in CIDR block",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-client-a-via-cidr-egress-rule",
                            {"pod": "a"},
                            egress_rules(eg_rule([peer(ip_block=ip_block(host_cidr(Y("b"))))])),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_all_egress(X("a"), False).expect(X("a"), Y("b"), True),
                    )
                ],
            )
        ],
    )

    except_policy = gen_policy_match_label(
        "allow-client-a-via-cidr-egress-rule",
        {"pod": "a"},
        egress_rules(
            eg_rule([peer(ip_block=ip_block(LARGE_CIDR_AROUND_X_B, [host_cidr(X("b"))]))])
        ),
    )
    add(
        "egress-cidr-except",
        "should enforce except clause while egress access to server in CIDR block",
        [
            Step(
                [("x", except_policy)],
                [Probe(80, TCP, reach().expect(X("a"), X("b"), False))],
            )
        ],
    )

    add(
        "ipblock-cidr-and-except-overlap",
        "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
        [
            Step(
                [("x", except_policy)],
                [Probe(80, TCP, reach().expect(X("a"), X("b"), False))],
            ),
            # UpdatePolicy with a new object of the same name: it *replaces* the except policy
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-client-a-via-cidr-egress-rule",
                            {"pod": "a"},
                            egress_rules(eg_rule([peer(ip_block=ip_block(host_cidr(X("b"))))])),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach().expect_all_egress(X("a"), False).expect(X("a"), X("b"), True),
                    )
                ],
            ),
        ],
    )

    allow_egress_target = gen_policy(
        "allow-egress-for-target", match_labels({"pod": "a"}), egress_rules(eg_rule())
    )
    add(
        "ingress-egress-independent",
        "should enforce policies to check ingress and egress policies can be controlled "
        "independently based on PodSelector",
        [
            Step([("x", allow_egress_target)], [Probe(80, TCP, reach())]),
            Step(
                [
                    ("x", allow_egress_target),
                    (
                        "x",
                        gen_policy(
                            "deny-ingress-via-label-selector",
                            match_labels({"pod": "a"}),
                            ingress_rules(),
                        ),
                    ),
                ],
                [Probe(80, TCP, reach().expect_all_ingress(X("a"), False))],
            ),
        ],
    )

    add(
        "sctp-not-treated-as-tcp",
        "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin "
        "doesn't support SCTP",
        [
            Step(
                [
                    ("x", gen_policy("deny-ingress", {}, ingress_rules())),
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-only-sctp-ingress-on-port-81",
                            {"pod": "a"},
                            ingress_rules(in_rule(ports=[port(81, SCTP)])),
                        ),
                    ),
                ],
                [Probe(81, TCP, reach().expect_peer(ANY, NS_X, False))],
            )
        ],
    )

    add(
        "sctp-policy-isolates-pod",
        "should properly isolate pods that are selected by a policy allowing SCTP, even if the "
        "plugin doesn't support SCTP",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-only-sctp-ingress-on-port-80",
                            {"pod": "a"},
                            ingress_rules(in_rule(ports=[port(80, SCTP)])),
                        ),
                    )
                ],
                [Probe(81, TCP, reach().expect_all_ingress(X("a"), False))],
            )
        ],
    )

    add(
        "tcp-denied-when-policy-only-udp",
        "should not allow access by TCP when a policy specifies only UDP",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-only-udp-ingress-on-port-81",
                            {"pod": "a"},
                            ingress_rules(in_rule(ports=[port(81, UDP)])),
                        ),
                    )
                ],
                [Probe(81, TCP, reach().expect_all_ingress(X("a"), False))],
            )
        ],
    )

    add(
        "nsselector-matchlabels-default-ns-label",
        "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels "
        "using default ns label",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-client-a-via-ns-selector-for-immutable-ns-label",
                            {"pod": "a"},
                            ingress_rules(
                                in_rule(
                                    [peer(namespace_selector=match_labels({NS_LABEL_KEY: "y"}))]
                                )
                            ),
                        ),
                    )
                ],
                [
                    Probe(
                        80,
                        TCP,
                        reach()
                        .expect_peer(NS_X, Peer("x", "a"), False)
                        .expect_peer(NS_Z, Peer("x", "a"), False),
                    )
                ],
            )
        ],
    )

    add(
        "nsselector-matchexpressions-default-ns-label-egress",
        "should enforce policy based on NamespaceSelector with MatchExpressions using default "
        "ns label",
        [
            Step(
                [
                    (
                        "x",
                        gen_policy_match_label(
                            "allow-ns-y-match-selector-for-immutable-ns-label",
                            {"pod": "a"},
                            egress_rules(
                                eg_rule(
                                    [
                                        peer(
                                            namespace_selector=match_expr(
                                                NS_LABEL_KEY, "NotIn", ["y"]
                                            )
                                        )
                                    ]
                                )
                            ),
                        ),
                    )
                ],
                [Probe(80, TCP, reach().expect_peer(Peer("x", "a"), NS_Y, False))],
            )
        ],
    )

    # ---- Context: using UDP ([LinuxOnly]) and using SCTP ([Feature:SCTPConnectivity]) ----

    for proto, ctx, tag in ((UDP, CTX_UDP, "udp"), (SCTP, CTX_SCTP, "sctp")):
        add(
            f"{tag}-default-deny-ingress",
            "should support a 'default-deny-ingress' policy",
            [
                Step(
                    [("x", gen_policy("deny-all", {}, ingress_rules()))],
                    [Probe(80, proto, reach().expect_peer(ANY, NS_X, False))],
                )
            ],
            ctx,
        )
        add(
            f"{tag}-ports",
            "should enforce policy based on Ports",
            [
                Step(
                    [("x", ns_y_on_port_81("allow-ingress-on-port-81-ns-x", proto))],
                    [
                        Probe(
                            81,
                            proto,
                            reach()
                            .expect_peer(NS_X, Peer("x", "a"), False)
                            .expect_peer(NS_Z, Peer("x", "a"), False),
                        )
                    ],
                )
            ],
            ctx,
        )
        add(
            f"{tag}-pod-in-different-namespace",
            "should enforce policy to allow traffic only from a pod in a different namespace "
            "based on PodSelector and NamespaceSelector",
            [Step([("x", pod_in_other_ns_policy())], [Probe(80, proto, pod_in_other_ns_reach())])],
            ctx,
        )

    return cases


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def namespace_manifest(ns: str, extra: dict[str, str]) -> dict[str, Any]:
    labels = {NS_LABEL_KEY: ns, "ns": ns}
    labels.update(extra)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}


def container(port_: int, protocol: str) -> dict[str, Any]:
    proto = protocol.lower()
    c: dict[str, Any] = {"name": f"cont-{port_}-{proto}", "image": AGNHOST_IMAGE}
    if protocol == SCTP:
        c["command"] = ["/agnhost", "porter"]
        c["env"] = [{"name": f"SERVE_SCTP_PORT_{port_}", "value": "foo"}]
    else:
        c["command"] = [
            "/agnhost",
            "serve-hostname",
            f"--{proto}",
            "--http=false",
            "--port",
            str(port_),
        ]
    c["ports"] = [{"containerPort": port_, "name": f"serve-{port_}-{proto}", "protocol": protocol}]
    return c


def pod_manifest(pod: str, extra: dict[str, str]) -> dict[str, Any]:
    ns, name = pod.split("/")
    labels = {"pod": name}
    labels.update(extra)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [container(p, pr) for p in MODEL_PORTS for pr in MODEL_PROTOCOLS],
        },
        "status": {
            "phase": "Running",
            "podIP": POD_IPS[pod],
            "podIPs": [{"ip": POD_IPS[pod]}],
        },
    }


def policy_manifest(ns: str, pol: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": pol["podSelector"]}
    if pol["ingress"]:
        spec["ingress"] = pol["ingress"]
    if pol["egress"]:
        spec["egress"] = pol["egress"]
    if pol["policyTypes"]:
        spec["policyTypes"] = list(pol["policyTypes"])
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": pol["name"], "namespace": ns},
        "spec": spec,
    }


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml_docs(docs: list[dict[str, Any]]) -> str:
    return yaml.dump_all(
        docs,
        Dumper=_NoAliasDumper,
        sort_keys=False,
        default_flow_style=False,
        explicit_start=True,
        width=1000,
    )


def dump_probes_json(doc: dict[str, Any]) -> str:
    """JSON with one probe per line (reviewable diffs, still plain JSON)."""
    head = {k: v for k, v in doc.items() if k != "probes"}
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append('  "probes": [')
    rows = [f"    {json.dumps(p)}" for p in doc["probes"]]
    lines.append(",\n".join(rows))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def case_dirs(cases: list[Case]) -> list[tuple[str, Case, int, Step]]:
    out = []
    for i, case in enumerate(cases, start=1):
        for s, step in enumerate(case.steps, start=1):
            name = f"{i:02d}-{case.slug}"
            if len(case.steps) > 1:
                name += f"-step{s}"
            out.append((name, case, s, step))
    return out


def render(cases: list[Case], dest: Path) -> tuple[int, int]:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    n_dirs = n_probes = 0
    for name, case, s, step in case_dirs(cases):
        d = dest / name
        d.mkdir()
        docs: list[dict[str, Any]] = []
        docs += [namespace_manifest(ns, step.ns_labels.get(ns, {})) for ns in NAMESPACES]
        docs += [pod_manifest(p, step.pod_labels.get(p, {})) for p in ALL_PODS]
        seen: set[tuple[str, str]] = set()
        for ns, pol in step.policies:
            key = (ns, pol["name"])
            if key in seen:
                raise ValueError(f"{name}: duplicate policy {key}")
            seen.add(key)
            docs.append(policy_manifest(ns, pol))
        (d / "manifests.yaml").write_text(dump_yaml_docs(docs))

        probes = []
        for pr in step.probes:
            for frm in ALL_PODS:
                for to in ALL_PODS:
                    if frm == to:
                        continue  # upstream ignores loopback (ignoreLoopback = true)
                    probes.append(
                        {
                            "from": frm,
                            "to": to,
                            "port": pr.port,
                            "protocol": pr.protocol,
                            "allowed": pr.reachability.expected[(frm, to)],
                        }
                    )
        doc: dict[str, Any] = {"upstream": case.upstream, "context": case.context}
        if len(case.steps) > 1:
            doc["step"] = s
            doc["steps"] = len(case.steps)
        doc["probes"] = probes
        (d / "probes.json").write_text(dump_probes_json(doc))
        n_dirs += 1
        n_probes += len(probes)
    return n_dirs, n_probes


def main() -> None:
    cases = build_cases()
    n_dirs, n_probes = render(cases, CASES_DIR)
    print(f"{len(cases)} upstream tests -> {n_dirs} case folders, {n_probes} probes")


if __name__ == "__main__":
    main()
