"""`explain --suggest` on small fixtures: which change is chosen, the YAML, what it announces.

Every case also goes through `check` (the property test's oracle): the YAML, loaded and
applied, allows the connection and newly allows exactly the announced connections.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from netpolicy import api
from netpolicy.load import load_text
from netpolicy.model import Cluster
from netpolicy.render.suggest import render_suggestion_text, suggestion_yaml

from ..cli._helpers import invoke
from .test_suggest_property import check

DATA = Path(__file__).parent / "data"
TWIN = """
---
apiVersion: v1
kind: Pod
metadata: {name: twin, namespace: e, labels: {app: client, tier: web}}
spec: {containers: [{name: c, image: x}]}
"""


def load(name: str, extra: str = "") -> Cluster:
    text = (DATA / name).read_text() + extra
    result = load_text(text, filename=name)
    assert not [d for d in result.diagnostics if d.severity == "error"]
    return result.cluster


def test_egress_denied_gets_a_policy_for_the_source_alone():
    # deny-egress selects client and server: a rule there would open server -> other too,
    # so a new policy selecting app=client (which tells client apart) wins, opening nothing else
    cluster = load("egress.yaml")
    s = check(cluster, "e/client", "f/other", "TCP", 80)
    assert s.denied_by == ("egress",)
    assert [(c.action, c.directions, c.policy.key) for c in s.changes] == [
        ("newPolicy", ("egress",), "e/allow-client-to-other-80-tcp-egress")
    ]
    assert s.precise and not s.hints
    doc = yaml.safe_load(suggestion_yaml(s))
    assert doc["spec"] == {
        "podSelector": {"matchLabels": {"app": "client"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "f"}},
                        "podSelector": {"matchLabels": {"app": "other"}},
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 80}],
            }
        ],
    }


def test_labels_that_cannot_tell_pods_apart_are_announced_with_the_label_to_add():
    # twin carries client's very labels: every selector of client also selects twin
    cluster = load("egress.yaml", TWIN)
    s = check(cluster, "e/client", "f/other", "TCP", 80)
    assert not s.precise
    assert [(c.src, c.dst, c.connections.describe()) for c in s.extra] == [
        ("e/twin", "f/other", "TCP 80")
    ]
    assert s.extra_pairs == 1
    assert len(s.hints) == 1
    assert "e/client apart from e/twin" in s.hints[0]
    assert "netpolicy.io/name=client" in s.hints[0]
    text = render_suggestion_text(s)
    assert "It also opens 1 other connection (1 pod pair):" in text
    assert "e/twin => f/other : TCP 80" in text


def test_both_directions_denied_get_both_changes():
    cluster = load("both.yaml")
    s = check(cluster, "e/client", "f/other", "TCP", "http")
    assert s.denied_by == ("egress", "ingress")
    assert sorted((c.directions, c.action) for c in s.changes) == [
        (("egress",), "addRule"),
        (("ingress",), "addRule"),
    ]
    assert s.precise
    ingress = next(c for c in s.changes if c.directions == ("ingress",))
    assert ingress.original is not None and ingress.original.key == "f/other-ingress"
    # the rule added keeps the named port as asked, resolved on the destination
    assert ingress.added[0].rule.ports[0].port == "http"
    docs = list(yaml.safe_load_all(suggestion_yaml(s)))
    assert [d["metadata"]["name"] for d in docs] == ["deny-egress", "other-ingress"]
    assert len(docs[1]["spec"]["ingress"]) == 2  # the existing rule kept, the new one added


def test_demo_rule_added_to_the_policy_of_the_destination():
    cluster = api.load_demo().cluster
    s = check(cluster, "default/debug", "shop/backend", "TCP", 8080)
    assert [(c.action, c.policy.key) for c in s.changes] == [("addRule", "shop/backend-ingress")]
    peer = s.changes[0].added[0].rule.peers[0]
    assert peer.namespace_selector is not None and peer.pod_selector is not None
    assert dict(peer.namespace_selector.match_labels) == {"kubernetes.io/metadata.name": "default"}
    assert s.precise


def test_outside_source_gets_an_ip_block():
    cluster = api.load_demo().cluster
    s = check(cluster, "203.0.113.9", "payments/db", "TCP", 5432)
    assert s.denied_by == ("ingress",)
    (change,) = s.changes
    block = change.added[0].rule.peers[0].ip_block
    assert block is not None and block.cidr == "203.0.113.9/32"


@pytest.mark.parametrize(
    ("src", "dst", "port", "cidr"),
    [
        ("2001:db8::5", "payments/db", 5432, "2001:db8::5/128"),
        ("shop/backend", "2001:db8::1", 443, "2001:db8::1/128"),
        ("shop/backend", "10.1.2.0-10.1.2.255", 443, "10.1.2.0/24"),
    ],
)
def test_addresses_of_a_family_or_range_the_input_did_not_cut(src, dst, port, cidr):
    # the demo's ipBlocks are all IPv4: the analysis before the change has no IPv6 range
    s = check(api.load_demo().cluster, src, dst, "TCP", port)
    (change,) = s.changes
    block = change.added[0].rule.peers[0].ip_block
    assert block is not None and block.cidr == cidr
    assert s.precise


def test_workload_names_mean_all_their_pods():
    # the demo's frontend Deployment: every pod of it, to every pod of the db StatefulSet
    cluster = api.load_demo().cluster
    s = check(cluster, "shop/frontend", "payments/db", "TCP", 5432)
    assert s.status == "suggested" and s.precise


def test_allowed_and_impossible():
    cluster = api.load_demo().cluster
    assert check(cluster, "shop/frontend", "shop/backend", "TCP", 8080).status == "allowed"
    s = check(cluster, "default/debug", "shop/backend", "TCP", "nope")
    assert s.status == "impossible"
    assert "no TCP container port named 'nope'" in s.reason


def test_cli_suggest_text_json_and_exit_codes():
    text = invoke("explain", "default/debug", "shop/backend", "--port", "8080", "--suggest")
    assert text.exit_code == 1, text.output  # still denied: the suggestion is not applied
    assert "Suggested change (verified by re-analysis" in text.stdout
    assert "kind: NetworkPolicy" in text.stdout
    assert "kubectl -n shop patch networkpolicy backend-ingress" in text.stdout
    result = invoke(
        "explain", "default/debug", "shop/backend", "--port", "8080", "--suggest", "-o", "json"
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    suggestion = doc["suggestion"]
    assert suggestion["status"] == "suggested"
    assert suggestion["precise"] is True and suggestion["alsoOpens"] == []
    assert suggestion["changes"][0]["action"] == "addRule"
    applied = load_text(suggestion["yaml"])
    assert [p.key for p in applied.cluster.policies] == ["shop/backend-ingress"]
    allowed = invoke("explain", "shop/frontend", "shop/backend", "--port", "8080", "--suggest")
    assert allowed.exit_code == 0
    assert "nothing to change" in allowed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("default/debug", "shop/backend", "--suggest"), "--suggest needs --port"),
        (("default/debug", "shop/nothing", "--port", "80", "--suggest"), "no pod, workload"),
        (("default/debug", "shop/backend", "--port", "0", "--suggest"), "1..65535"),
    ],
)
def test_cli_bad_usage_exits_2(args, message):
    result = invoke("explain", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_workload_with_live_pods_both_directions():
    # tests/blast/data/workload.yaml: app/store may only reach 10.0.0.0/8 (store-out); the web
    # pods (two, through a ReplicaSet) admit only web on 9000 (`all`). store-out selects store
    # alone: a rule there; `all` also selects store: a new policy for app=web instead.
    blast_data = Path(__file__).parents[1] / "blast" / "data" / "workload.yaml"
    cluster = load_text(blast_data.read_text(), filename="workload.yaml").cluster
    s = check(cluster, "app/store", "app/web", "TCP", 8080)
    assert s.src == "app/store[StatefulSet]" and s.dst == "app/web[Deployment]"
    assert s.denied_by == ("egress", "ingress")
    got = sorted((c.directions, c.action, c.policy.key) for c in s.changes)
    assert got[0] == (("egress",), "addRule", "app/store-out")
    assert got[1][:2] == (("ingress",), "newPolicy")
    new = next(c.policy for c in s.changes if c.action == "newPolicy")
    assert dict(new.pod_selector.match_labels) == {"app": "web"}  # not pod-template-hash
    assert s.precise


def test_one_policy_isolating_both_ends_gets_both_rules_in_one_change():
    # deny-all isolates client's egress and server's ingress; new policies could not select
    # either pod alone (no labels), so they would open as much as amending deny-all, which
    # adds no object: one change, both rules, and server -> client announced.
    s = check(load("same-namespace.yaml"), "s/client", "s/server", "TCP", 80)
    (change,) = s.changes
    assert (change.action, change.policy.key) == ("addRule", "s/deny-all")
    assert change.directions == ("egress", "ingress")
    assert [(c.src, c.dst, c.connections.describe()) for c in s.extra] == [
        ("s/server", "s/client", "TCP 80")
    ]
    assert s.hints
    (doc,) = yaml.safe_load_all(suggestion_yaml(s))
    assert len(doc["spec"]["ingress"]) == 1 and len(doc["spec"]["egress"]) == 1
    text = render_suggestion_text(s)
    assert "add an egress rule and an ingress rule to s/deny-all" in text
    assert '"path":"/spec/egress"' in text and '"path":"/spec/ingress"' in text
