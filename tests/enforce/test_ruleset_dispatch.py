"""The shape of the rendered ruleset: pods reach their policies' rules through verdict maps.

A packet must never walk every policy's rules (at a thousand pods that walk dominated the
lab), and the ruleset must still grow with the policies, not with the pods. No root needed.
"""

from __future__ import annotations

import re

from netpolicy.enforce import RulesetOptions, render_ruleset
from netpolicy.load import load_text
from netpolicy.model import Cluster


def _cluster(text: str) -> Cluster:
    loaded = load_text(text, filename="dispatch.yaml")
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert errors == [], errors
    return loaded.cluster


def _pods(count: int, namespace: str = "x", app: str = "web", first: int = 1) -> str:
    return "".join(
        f"""
---
apiVersion: v1
kind: Pod
metadata: {{name: {app}-{i}, namespace: {namespace}, labels: {{app: {app}}}}}
spec: {{containers: [{{name: c, ports: [{{containerPort: 80}}]}}]}}
status: {{podIP: 10.1.{i // 250}.{i % 250 + 1}}}
"""
        for i in range(first, first + count)
    )


POLICIES = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-api, namespace: x}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-egress, namespace: x}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 80}, {port: 53, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-db, namespace: x}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress, Egress]
"""


def _chain(text: str, name: str) -> list[str]:
    body = text.split(f"\tchain {name} {{\n", 1)[1].split("\n\t}", 1)[0]
    return [line.strip() for line in body.splitlines()]


def _map(text: str, name: str) -> dict[str, str]:
    body = text.split(f"\tmap {name} {{\n", 1)[1].split("\n\t}", 1)[0]
    found = re.search(r"elements = \{ (.*) \}", body)
    if found is None:
        return {}
    return dict(item.split(" : ", 1) for item in found.group(1).split(", "))


def _counted(text: str) -> list[str]:
    """The rules with a counter: the policies' rules and the rejects."""
    return [line.strip() for line in text.splitlines() if "counter" in line.split()]


def test_rules_grow_with_policies_not_pods() -> None:
    def render(web: int) -> str:
        text = _pods(web) + _pods(3, app="api", first=900) + _pods(2, app="db", first=950)
        return render_ruleset(_cluster(text + POLICIES))

    small, large = render(5), render(200)
    rules = _counted(large)
    assert len(rules) == len(_counted(small))
    # web-from-api once, api-egress once per protocol, two rejects per direction
    assert len(rules) == 1 + 2 + 4
    assert len(_map(large, "ingress_isolated_ip")) == 200 + 2  # every web pod and the db pods
    assert len(_map(large, "egress_isolated_ip")) == 3 + 2  # the api and the db pods


def test_pods_selected_alike_share_a_chain_and_deny_all_goes_straight_to_reject() -> None:
    text = render_ruleset(
        _cluster(
            _pods(3) + _pods(2, app="api", first=900) + _pods(1, app="db", first=950) + POLICIES
        )
    )
    ingress = _map(text, "ingress_isolated_ip")
    egress = _map(text, "egress_isolated_ip")
    web = {ingress[f"10.1.0.{i + 1}"] for i in (1, 2, 3)}
    assert len(web) == 1
    (chain,) = web
    assert chain.startswith("jump ingress_c")
    assert _chain(text, chain.split()[1]) == ["jump p0_ingress", "goto ingress_denied"]
    db = "10.1.3.201"  # pod db-950
    assert ingress[db] == "jump ingress_denied" and egress[db] == "jump egress_denied"
    api = {egress["10.1.3.151"], egress["10.1.3.152"]}
    assert len(api) == 1 and next(iter(api)).startswith("jump egress_c")
    # the policy's rules match the peer and ports only: the dispatch chose the selected pod
    (rule,) = [line for line in _chain(text, "p0_ingress") if "counter" in line]
    assert rule.startswith("ip saddr @") and "daddr" not in rule
    assert rule.endswith('counter accept comment "x/web-from-api ingress rule #1"')
    egress_rules = [line for line in _chain(text, "p1_egress") if "counter" in line]
    assert len(egress_rules) == 2
    assert all(r.startswith("ip daddr @") and " goto ingress " in r for r in egress_rules)
    assert _chain(text, "p1_egress")[0] == 'comment "x/api-egress egress"'


def test_the_hook_chain_dispatches_and_ingress_ends_in_accept() -> None:
    text = render_ruleset(_cluster(_pods(2) + _pods(1, app="api", first=900) + POLICIES))
    assert _chain(text, "forward") == [
        "type filter hook forward priority filter; policy accept;",
        "ct state established,related accept",
        "ip saddr vmap @egress_isolated_ip",
        "goto ingress",
    ]
    # entered by goto from inside a jump: falling off its end would return into a class chain
    assert _chain(text, "ingress") == ["ip daddr vmap @ingress_isolated_ip", "accept"]


def test_pods_sharing_an_address_get_the_rules_of_both() -> None:
    text = render_ruleset(
        _cluster(
            _pods(1)
            + _pods(1, app="api", first=900).replace("10.1.3.151", "10.1.0.2")
            + POLICIES
            + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{ports: [{port: 8080}]}]
"""
        )
    )
    ingress = _map(text, "ingress_isolated_ip")
    assert list(ingress) == ["10.1.0.2"]
    assert _chain(text, ingress["10.1.0.2"].split()[1]) == [
        "jump p0_ingress",
        "jump p3_ingress",
        "goto ingress_denied",
    ]


def test_every_policy_rule_is_rendered_once_with_its_counter() -> None:
    text = render_ruleset(_cluster(_pods(4) + _pods(2, app="api", first=900) + POLICIES))
    comments = [line.split('comment "', 1)[1].rstrip('"') for line in _counted(text)]
    assert sorted(comments) == sorted(
        [
            "x/web-from-api ingress rule #1",
            "x/api-egress egress rule #1",
            "x/api-egress egress rule #1",
            *["egress isolated: no rule allows"] * 2,
            *["ingress isolated: no rule allows"] * 2,
        ]
    )
    plain = render_ruleset(
        _cluster(_pods(4) + _pods(2, app="api", first=900) + POLICIES),
        RulesetOptions(counters=False),
    )
    assert " counter" not in plain


def test_tier_rule_comments_are_valid_nft_comments() -> None:
    """A rule name is free text (up to 100 characters): quotes and length stay within what
    nft accepts in a comment (no `"`, at most 128 bytes)."""
    name = 'say "no" \\ to ' + "x" * 85
    text = (
        _pods(2)
        + f"""
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: {"a" * 60}}}
spec:
  priority: 1
  subject: {{namespaces: {{}}}}
  ingress:
  - name: '{name}'
    action: Deny
    from: [{{namespaces: {{}}}}]
"""
    )
    rendered = render_ruleset(_cluster(text), RulesetOptions())
    comments = re.findall(r'comment "([^"]*)"', rendered)
    tier = [c for c in comments if c.startswith("ANP ")]
    assert tier and all(len(c.encode()) <= 128 for c in tier)
    assert any("say 'no' / to" in c for c in tier)
    assert rendered.count('"') == 2 * len(comments)


def test_tier_dispatch_grows_with_policies_not_pods() -> None:
    """Subjects reach a tier's rules through one map element each; the rules are written once
    per policy, whatever the number of subjects."""
    guard = """
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - {action: Pass, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]}
  - {action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {protocol: TCP, port: 22}}]}
"""
    small = render_ruleset(_cluster(_pods(3) + guard), RulesetOptions())
    large = render_ruleset(_cluster(_pods(300) + guard), RulesetOptions())
    rules = [line for line in large.splitlines() if "ANP guard ingress rule" in line]
    assert len(rules) == 2
    assert large.count("jump ingress_admin_c1") == 300
    assert small.count("chain ") == large.count("chain ")
