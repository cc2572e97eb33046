"""The adoption dashboard: every expected number below is derived by hand from the manifests
and the NetworkPolicy spec (the comments show the derivation), never copied from output."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netpolicy
from netpolicy import api
from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import pod_name
from netpolicy.analysis.coverage import (
    ALL_STEPS,
    EGRESS_WITH_DNS,
    INGRESS_ALLOWS,
    INGRESS_DEFAULT_DENY,
    NO_POLICIES,
    NO_WORKLOADS,
    Coverage,
    IsolationCounts,
    NamespaceCoverage,
    WorkloadCoverage,
    coverage,
)
from netpolicy.load import load_text
from netpolicy.model import Cluster, OwnerRef
from netpolicy.semantics import IntervalSet, network_set, parse_range
from tests.strategies import clusters


def cluster_of(text: str) -> Cluster:
    loaded = load_text(textwrap.dedent(text), "t.yaml")
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert not errors, errors
    return loaded.cluster


def deployment(ns: str, name: str, labels: str = "", replicas: int = 1, kind: str = "Deployment"):
    labels = labels or f"app: {name}"
    return f"""\
---
apiVersion: apps/v1
kind: {kind}
metadata: {{name: {name}, namespace: {ns}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{{labels}}}}}
  template:
    metadata: {{labels: {{{labels}}}}}
    spec: {{containers: [{{name: c, image: i, ports: [{{containerPort: 80}}]}}]}}
"""


def policy(ns: str, name: str, spec: str) -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: {name}, namespace: {ns}}}\nspec:\n{body}\n"
    )


def namespace(name: str) -> str:
    return f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n"


def rows(cov: Coverage) -> dict[str, NamespaceCoverage]:
    return {r.namespace: r for r in cov.namespaces}


def by_name(cov: Coverage) -> dict[str, WorkloadCoverage]:
    return {w.name: w for w in cov.workloads}


DEFAULT_DENY = "podSelector: {}\npolicyTypes: [Ingress]\n"

# --- the adoption path: one namespace per step ------------------------------------------------

STEPS_CLUSTER = "".join(
    [
        # the cluster DNS: no policy in kube-system
        namespace("kube-system"),
        deployment("kube-system", "coredns", "k8s-app: kube-dns", replicas=2),
        # open: no policy at all; a Deployment and a bare pod
        namespace("open"),
        deployment("open", "api", replicas=2),
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: tool, namespace: open}\n"
        "spec: {containers: [{name: c, image: i}]}\n",
        # partial: a policy isolates a, b stays open
        namespace("partial"),
        deployment("partial", "a"),
        deployment("partial", "b"),
        policy("partial", "a-any", "podSelector: {matchLabels: {app: a}}\ningress: [{}]\n"),
        # deny: a default deny and nothing else
        namespace("deny"),
        deployment("deny", "x"),
        deployment("deny", "y"),
        policy("deny", "default-deny", DEFAULT_DENY),
        # some: a default deny, and an allow for x only
        namespace("some"),
        deployment("some", "x"),
        deployment("some", "y"),
        policy("some", "default-deny", DEFAULT_DENY),
        policy(
            "some",
            "x-from-ns",
            "podSelector: {matchLabels: {app: x}}\ningress: [{from: [{podSelector: {}}]}]\n",
        ),
        # allows: web lets `open` in on 80; the worker's own policy lets nothing in on purpose
        namespace("allows"),
        deployment("allows", "web"),
        deployment("allows", "worker"),
        policy("allows", "default-deny", DEFAULT_DENY),
        policy(
            "allows",
            "web-from-open",
            """
            podSelector: {matchLabels: {app: web}}
            ingress:
              - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: open}}}]
                ports: [{port: 80}]
            """,
        ),
        policy("allows", "worker-nothing-in", "podSelector: {matchLabels: {app: worker}}\n"),
        # nodns: both isolated both ways, egress only to TCP 5432 in the namespace
        namespace("nodns"),
        deployment("nodns", "app"),
        deployment("nodns", "db", kind="StatefulSet"),
        policy(
            "nodns",
            "all",
            """
            podSelector: {}
            policyTypes: [Ingress, Egress]
            ingress: [{from: [{podSelector: {}}]}]
            egress: [{to: [{podSelector: {}}], ports: [{port: 5432}]}]
            """,
        ),
        # done: isolated both ways, DNS allowed to the cluster DNS
        namespace("done"),
        deployment("done", "svc"),
        policy(
            "done",
            "all",
            """
            podSelector: {}
            policyTypes: [Ingress, Egress]
            ingress: [{from: [{podSelector: {}}]}]
            egress:
              - to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
                ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
            """,
        ),
        # empty: a namespace without pods
        namespace("empty"),
    ]
)


@pytest.fixture(scope="module")
def steps() -> Coverage:
    return api.coverage(cluster_of(STEPS_CLUSTER))


@pytest.mark.parametrize(
    ("ns", "step", "next_step", "blocking"),
    [
        ("kube-system", NO_POLICIES, INGRESS_DEFAULT_DENY, {"coredns[Deployment]": "ingressOpen"}),
        (
            "open",
            NO_POLICIES,
            INGRESS_DEFAULT_DENY,
            {"api[Deployment]": "ingressOpen", "tool": "ingressOpen"},
        ),
        # a policy exists, but b is open: not every workload is at step 1 yet
        ("partial", NO_POLICIES, INGRESS_DEFAULT_DENY, {"b[Deployment]": "ingressOpen"}),
        (
            "deny",
            INGRESS_DEFAULT_DENY,
            INGRESS_ALLOWS,
            {"x[Deployment]": "defaultDenyOnly", "y[Deployment]": "defaultDenyOnly"},
        ),
        ("some", INGRESS_DEFAULT_DENY, INGRESS_ALLOWS, {"y[Deployment]": "defaultDenyOnly"}),
        (
            "allows",
            INGRESS_ALLOWS,
            EGRESS_WITH_DNS,
            {"web[Deployment]": "egressOpen", "worker[Deployment]": "egressOpen"},
        ),
        (
            "nodns",
            INGRESS_ALLOWS,
            EGRESS_WITH_DNS,
            {"app[Deployment]": "dnsBlocked", "db[StatefulSet]": "dnsBlocked"},
        ),
        ("done", EGRESS_WITH_DNS, None, {}),
        ("empty", NO_WORKLOADS, None, {}),
    ],
)
def test_each_step_is_reached_exactly(steps, ns, step, next_step, blocking):
    row = rows(steps)[ns]
    assert row.step == step
    assert row.next_step == next_step
    assert {b.workload: b.reason for b in row.blocking} == {
        f"{ns}/{name}": reason for name, reason in blocking.items()
    }


def test_dns_blockers_name_both_protocols(steps):
    # nodns egress allows only TCP 5432: neither UDP 53 nor TCP 53 reaches coredns
    for b in rows(steps)["nodns"].blocking:
        assert b.protocols == ("UDP", "TCP")
        assert "UDP/TCP 53" in b.message


@pytest.mark.parametrize(
    ("ns", "policies", "counts"),
    [
        ("kube-system", 0, IsolationCounts(1, 0, 0, 0)),
        ("open", 0, IsolationCounts(2, 0, 0, 0)),
        ("partial", 1, IsolationCounts(2, 1, 0, 0)),
        ("deny", 1, IsolationCounts(2, 2, 0, 0)),
        ("some", 2, IsolationCounts(2, 2, 0, 0)),
        ("allows", 3, IsolationCounts(2, 2, 0, 0)),
        ("nodns", 1, IsolationCounts(2, 2, 2, 2)),
        ("done", 1, IsolationCounts(1, 1, 1, 1)),
        ("empty", 0, IsolationCounts(0, 0, 0, 0)),
    ],
)
def test_counts_per_namespace(steps, ns, policies, counts):
    row = rows(steps)[ns]
    assert row.policies == policies
    assert row.counts == counts


def test_totals_and_percentages(steps):
    t = steps.totals
    # 1 + 2 + 2 + 2 + 2 + 2 + 2 + 1 workloads; ingress: partial 1, deny/some/allows/nodns 2
    # each, done 1; egress and both: nodns 2 + done 1
    assert t.namespaces == 9  # kube-system, open, partial, deny, some, allows, nodns, done, empty
    assert t.counts == IsolationCounts(14, 10, 3, 3)
    assert t.counts.neither == 4  # coredns, open's two, partial's b
    assert t.counts.percent(t.counts.ingress) == pytest.approx(100 * 10 / 14)
    assert t.counts.percent(t.counts.neither) == pytest.approx(100 * 4 / 14)
    assert rows(steps)["partial"].counts.percent(1) == 50.0
    assert rows(steps)["empty"].counts.percent(0) is None
    assert t.steps == {
        "no-workloads": 1,
        "no-policies": 3,
        "ingress-default-deny": 2,
        "ingress-allows": 2,
        "egress-with-dns": 1,
    }
    assert list(t.steps) == [s.id for s in ALL_STEPS]


def test_workloads_are_counted_not_pods(steps):
    w = by_name(steps)
    assert w["open/api[Deployment]"].pods == 2  # replicas: 2 stand for two pods
    assert w["open/tool"].kind == "Pod"
    assert w["kube-system/coredns[Deployment]"].pods == 2
    assert rows(steps)["open"].counts.workloads == 2


# --- exposure and the ranking ---------------------------------------------------------------

RANKING_CLUSTER = "".join(
    [
        namespace("data"),
        deployment("data", "db", kind="StatefulSet"),  # no policy: open to everything
        namespace("batch"),
        deployment("batch", "report"),  # no policy either
        namespace("app"),
        deployment("app", "web"),
        deployment("app", "api"),
        policy(
            "app",
            "web",
            """
            podSelector: {matchLabels: {app: web}}
            ingress:
              - from: [{ipBlock: {cidr: 203.0.113.0/24}}]
                ports: [{port: 443}]
              - from: [{podSelector: {matchLabels: {app: api}}}]
            """,
        ),
        policy(
            "app",
            "api",
            """
            podSelector: {matchLabels: {app: api}}
            ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 8080}]}]
            """,
        ),
    ]
)


@pytest.fixture(scope="module")
def ranking() -> Coverage:
    return api.coverage(cluster_of(RANKING_CLUSTER))


def test_reaching_counts(ranking):
    w = by_name(ranking)
    # nobody's egress is isolated, so ingress decides
    assert w["data/db[StatefulSet]"].reaching == 3  # web, api, report
    assert w["batch/report[Deployment]"].reaching == 3  # db, web, api
    assert w["app/web[Deployment]"].reaching == 1  # api only (the ipBlock matches no pod)
    assert w["app/api[Deployment]"].reaching == 1  # web only


def test_reachable_from_every_pod(ranking):
    w = by_name(ranking)
    assert w["data/db[StatefulSet]"].from_every_pod
    assert w["batch/report[Deployment]"].from_every_pod
    assert not w["app/web[Deployment]"].from_every_pod
    assert not w["app/api[Deployment]"].from_every_pod


def test_outside_exposure_names_the_ranges_and_ports(ranking):
    w = by_name(ranking)
    web = w["app/web[Deployment]"]
    assert web.outside == network_set("203.0.113.0/24")
    assert web.outside_ports.describe() == "TCP 443"
    db = w["data/db[StatefulSet]"]
    assert db.outside == parse_range("0.0.0.0-255.255.255.255")
    assert db.outside_ports.is_all()
    assert w["app/api[Deployment]"].outside == IntervalSet.empty()


def test_next_ranks_the_exposed_database_first(ranking):
    # db and report: 3 workloads each, from every pod and outside; db is a StatefulSet.
    # web: 1 workload, outside only. api: neither from every pod nor from outside.
    assert [x.name for x in ranking.next] == [
        "data/db[StatefulSet]",
        "batch/report[Deployment]",
        "app/web[Deployment]",
    ]


# --- pods of one workload in several classes, live pods, host network ------------------------

SPLIT_CLUSTER = """\
apiVersion: v1
kind: Namespace
metadata: {name: s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-abc12-aaaaa
  namespace: s
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-abc12, controller: true}]
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-abc12-bbbbb
  namespace: s
  labels: {app: web, canary: "true"}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-abc12, controller: true}]
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: s, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: s, labels: {app: agent}}
spec: {hostNetwork: true, containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: canary-closed, namespace: s}
spec:
  podSelector: {matchLabels: {canary: "true"}}
"""


@pytest.fixture(scope="module")
def split() -> Coverage:
    return api.coverage(cluster_of(SPLIT_CLUSTER))


def test_pods_of_a_replicaset_count_as_their_deployment(split):
    assert set(by_name(split)) == {"s/web[Deployment]", "s/client"}
    assert by_name(split)["s/web[Deployment]"].pods == 2


def test_a_workload_is_isolated_only_if_all_its_pods_are(split):
    # only the canary pod is selected: web is not isolated, and s is still at step 0
    web = by_name(split)["s/web[Deployment]"]
    assert not web.isolated_ingress
    row = rows(split)["s"]
    assert row.counts == IsolationCounts(2, 0, 0, 0)
    assert row.step == NO_POLICIES


def test_split_workloads_are_counted_once(split):
    w = by_name(split)
    # the open web pod and client reach each other; the canary pod reaches both; nothing
    # reaches the canary pod. Either way one other workload reaches each.
    assert w["s/web[Deployment]"].reaching == 1
    assert w["s/client"].reaching == 1
    # every pod outside client (both web pods) reaches it; web's other pods (client) reach
    # web's open pod
    assert w["s/client"].from_every_pod
    assert w["s/web[Deployment]"].from_every_pod


def test_host_network_workloads_are_left_out_or_counted_on_request(split):
    assert rows(split)["s"].host_network == 1
    assert split.totals.host_network == 1
    as_pods = api.coverage(cluster_of(SPLIT_CLUSTER), host_network="pod")
    assert "s/node-agent" in by_name(as_pods)
    assert rows(as_pods)["s"].counts.workloads == 3
    assert rows(as_pods)["s"].host_network == 0


# --- the embedded demo (src/netpolicy/demo/shop.yaml) -----------------------------------------


@pytest.fixture(scope="module")
def demo() -> Coverage:
    return netpolicy.coverage(api.load_demo().cluster)  # type: ignore[attr-defined]


def test_demo_rows(demo):
    # shop: default-deny-ingress isolates frontend, backend and cart; backend-egress isolates
    # backend. Each has an allow: the internet on https (frontend), the frontend on http
    # (backend), tier=api pods of shop, i.e. backend, on 6379 (cart). frontend and cart are
    # open for egress, backend cannot reach port 53 anywhere.
    # payments: db-ingress and payments-api-ingress isolate both, each with an allow from
    # existing pods; no egress policy. monitoring and default: no policies.
    got = {
        r.namespace: (r.policies, r.counts, r.step, {b.workload: b.reason for b in r.blocking})
        for r in demo.namespaces
    }
    assert got == {
        "default": (0, IsolationCounts(1, 0, 0, 0), NO_POLICIES, {"default/debug": "ingressOpen"}),
        "monitoring": (
            0,
            IsolationCounts(1, 0, 0, 0),
            NO_POLICIES,
            {"monitoring/prometheus[Deployment]": "ingressOpen"},
        ),
        "payments": (
            2,
            IsolationCounts(2, 2, 0, 0),
            INGRESS_ALLOWS,
            {
                "payments/db[StatefulSet]": "egressOpen",
                "payments/payments-api[Deployment]": "egressOpen",
            },
        ),
        "shop": (
            5,
            IsolationCounts(3, 3, 1, 1),
            INGRESS_ALLOWS,
            {
                "shop/backend[Deployment]": "dnsBlocked",
                "shop/cart[Deployment]": "egressOpen",
                "shop/frontend[Deployment]": "egressOpen",
            },
        ),
    }
    assert demo.totals.counts == IsolationCounts(7, 5, 1, 1)


def test_demo_pods_follow_the_replicas(demo):
    pods = {w.name: w.pods for w in demo.workloads}
    assert pods == {
        "shop/frontend[Deployment]": 3,
        "shop/backend[Deployment]": 2,
        "shop/cart[Deployment]": 1,
        "payments/db[StatefulSet]": 2,
        "payments/payments-api[Deployment]": 1,
        "monitoring/prometheus[Deployment]": 1,
        "default/debug": 1,
    }


def test_demo_reach(demo):
    # Only backend's egress is isolated (to db:5432 and cart:6379).
    assert {w.name: w.reaching for w in demo.workloads} == {
        "shop/frontend[Deployment]": 0,  # only the internet (ipBlock), no pod has an IP
        "shop/backend[Deployment]": 2,  # frontend (http), prometheus (metrics)
        "shop/cart[Deployment]": 1,  # backend, the one tier=api pod of shop
        "payments/db[StatefulSet]": 2,  # backend, payments-api
        "payments/payments-api[Deployment]": 2,  # shop's frontend and cart (not backend)
        "monitoring/prometheus[Deployment]": 5,  # everyone but backend
        "default/debug": 5,  # everyone but backend
    }
    # backend cannot reach prometheus or debug: nothing is open to every pod
    assert not any(w.from_every_pod for w in demo.workloads)


def test_demo_next(demo):
    # debug and prometheus: 5 each, open to any address; tie broken by name. frontend:
    # 0 workloads, but 0.0.0.0/0 except 10.0.0.0/8 on https (8443).
    assert [w.name for w in demo.next] == [
        "default/debug",
        "monitoring/prometheus[Deployment]",
        "shop/frontend[Deployment]",
    ]
    frontend = demo.next[2]
    assert frontend.outside == parse_range("0.0.0.0-255.255.255.255") - network_set("10.0.0.0/8")
    assert frontend.outside_ports.describe() == "TCP 8443"
    assert frontend.isolated_ingress
    assert not frontend.isolated_egress


def test_coverage_is_public():
    assert "coverage" in netpolicy.__all__
    assert netpolicy.coverage is api.coverage  # type: ignore[attr-defined]


# --- the class-level counting against pods, one by one ---------------------------------------

OWNERS = (None, OwnerRef("ReplicaSet", "rs0"), OwnerRef("ReplicaSet", "rs1"))


@st.composite
def owned_clusters(draw: st.DrawFn) -> Cluster:
    """Random clusters whose pods share owners (a workload's pods often land in several
    classes) and some of which use the host network."""
    cluster = draw(clusters())
    pods = tuple(
        replace(
            p,
            owner=draw(st.sampled_from(OWNERS)),
            host_network=draw(st.sampled_from((False, False, True))),
        )
        for p in cluster.pods
    )
    return replace(cluster, pods=pods)


@settings(max_examples=300)
@given(owned_clusters())
def test_workload_counts_agree_with_pod_pairs(cluster: Cluster):
    result = compute_connectivity(cluster)
    cov = coverage(result)
    class_of = {id(p): c.index for c in result.classes for p in c.pods}
    pairs = set(result.class_pairs)
    members: dict[str, list[int]] = {}  # workload -> its pods' classes
    for p in cluster.pods:
        members.setdefault(pod_name(p, True), []).append(class_of[id(p)])
    counted = {
        w
        for w in members
        if any(not p.host_network for p in cluster.pods if pod_name(p, True) == w)
    }
    got = {w.name: w for w in cov.workloads}
    assert set(got) == counted
    for w in counted:
        mine = members[w]
        reaching = {
            v for v in counted - {w} if any((s, d) in pairs for s in members[v] for d in mine)
        }
        assert got[w].reaching == len(reaching), w
        others = [s for v in counted - {w} for s in members[v]]
        every = bool(others) and all(any((s, d) in pairs for d in mine) for s in others)
        assert got[w].from_every_pod == every, w
        assert got[w].isolated_ingress == all(result.isolated_ingress[c] for c in mine)
        assert got[w].isolated_egress == all(result.isolated_egress[c] for c in mine)
    assert cov.next == sorted(cov.next, key=lambda x: -x.reaching)
    assert {x.name for x in cov.next} == {
        x.name for x in cov.workloads if x.from_every_pod or x.outside
    }
