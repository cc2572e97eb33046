"""`render_ruleset` against reviewed golden files (no root); the goldens in real nft (root).

Regenerate after an intended change with `python -m pytest tests/enforce --update-goldens`
(or NETPOLICY_UPDATE_GOLDENS=1) and review the diff of tests/enforce/golden/.
"""

from __future__ import annotations

import difflib
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netpolicy.api import load_demo
from netpolicy.enforce import RulesetOptions, render_ruleset
from netpolicy.enforce.addressing import assign_addresses
from netpolicy.load import load_text
from netpolicy.model import Cluster

GOLDEN = Path(__file__).with_name("golden")

NAMED_PORTS_RANGES_IPBLOCK = """
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {team: red}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {role: web}}
spec:
  containers:
  - name: c
    ports:
    - {containerPort: 8080, name: http}
    - {containerPort: 53, name: dns, protocol: UDP}
status: {podIP: 10.1.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: app, labels: {role: api}}
spec:
  containers:
  - name: c
    ports:
    - {containerPort: 9000, name: http}
    - {containerPort: 7, name: echo, protocol: SCTP}
status: {podIP: 10.1.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: ops, labels: {role: probe}}
spec: {containers: [{name: c}]}
status: {podIP: 10.2.0.5}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-and-api-ingress, namespace: app}
spec:
  podSelector: {matchExpressions: [{key: role, operator: In, values: [web, api]}]}
  ingress:
  - from:
    - podSelector: {matchLabels: {role: web}}
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ops}}
    ports:
    - {port: http}
    - {port: echo, protocol: SCTP}
  - from:
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports:
    - {port: 8000, endPort: 9000}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: probe-egress, namespace: ops}
spec:
  podSelector: {matchLabels: {role: probe}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {team: red}}
      podSelector: {matchLabels: {role: api}}
    ports:
    - {port: http}
  - to:
    - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}
    ports:
    - {port: 443}
    - {port: 53, protocol: UDP}
"""

DUAL_STACK = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: default, labels: {app: a}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: "fd00:10::a"}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: default, labels: {app: b}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.3.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: default, labels: {app: host}}
spec: {hostNetwork: true, containers: [{name: c}]}
status: {podIP: 192.168.0.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-v6-and-b, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from:
    - ipBlock: {cidr: "fd00::/16", except: ["fd00:10::/64"]}
    - podSelector: {matchLabels: {app: b}}
    ports: [{port: 80}]
"""

DENY_ALL = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.9.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x}
spec: {containers: [{name: c}]}
status: {podIP: 10.9.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""

# Every tier and action, checked by hand in guardrails.nft against the API's field comments:
# ANP gate (priority 10) before the Admin CNP late (20); Pass goes to `*_after_admin`
# (NetworkPolicy, else Baseline, else allow); the BANP is only dispatched for pods no
# NetworkPolicy isolates in that direction (app/db for ingress, not app/web); egress
# Allow goes on to `ingress`; named ports per destination pod (http: 8080 on web, 9000 on
# db); networks match pod IPs (10.1.0.0/16 holds both app pods) and outside addresses.
GUARDRAILS = """
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {team: red}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {role: web}}
spec: {containers: [{name: c, ports: [{containerPort: 8080, name: http}]}]}
status: {podIP: 10.1.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app, labels: {role: db}}
spec: {containers: [{name: c, ports: [{containerPort: 9000, name: http}]}]}
status: {podIP: 10.1.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: ops, labels: {role: probe}}
spec: {containers: [{name: c}]}
status: {podIP: 10.2.0.5}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: gate}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: red}}}
  ingress:
  - name: ops-http
    action: Allow
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: ops}}}]
    ports: [{namedPort: http}]
  - name: ops-rest
    action: Pass
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: ops}}}]
  egress:
  - name: no-high
    action: Deny
    to: [{networks: [10.0.0.0/8]}]
    ports: [{portRange: {protocol: UDP, start: 5000, end: 6000}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: late}
spec:
  tier: Admin
  priority: 20
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {role: db}}}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    protocols: [{sctp: {destinationPort: {number: 7}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress, namespace: app}
spec:
  podSelector: {matchLabels: {role: web}}
  ingress:
  - from: [{podSelector: {}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - name: deny-from-ops
    action: Deny
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: ops}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: outside}
spec:
  tier: Baseline
  priority: 5
  subject: {namespaces: {}}
  egress:
  - name: dns-out
    action: Pass
    to: [{networks: [0.0.0.0/0]}]
    protocols: [{udp: {destinationPort: {number: 53}}}]
  - name: no-telnet
    action: Deny
    to: [{networks: [0.0.0.0/0]}]
    protocols: [{tcp: {destinationPort: {number: 23}}}]
"""


def _cluster(text: str, name: str) -> Cluster:
    loaded = load_text(text, filename=f"{name}.yaml")
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert errors == [], errors
    return loaded.cluster


def _demo() -> Cluster:
    cluster, _ = assign_addresses(load_demo().cluster)
    return cluster


CASES: dict[str, tuple[object, RulesetOptions]] = {
    "demo": (_demo, RulesetOptions()),
    "named-ports-ranges-ipblock": (
        lambda: _cluster(NAMED_PORTS_RANGES_IPBLOCK, "named"),
        RulesetOptions(),
    ),
    "dual-stack": (lambda: _cluster(DUAL_STACK, "dual"), RulesetOptions()),
    "guardrails": (lambda: _cluster(GUARDRAILS, "guardrails"), RulesetOptions()),
    # the lab's variant: ICMP admin-prohibited for TCP too, so "filtered" != "refused"
    "deny-all-lab": (
        lambda: _cluster(DENY_ALL, "deny"),
        RulesetOptions(tcp_reset=False, counters=False),
    ),
}


def rendered(case: str) -> str:
    make, options = CASES[case]
    return render_ruleset(make(), options)  # type: ignore[operator]


@pytest.mark.parametrize("case", sorted(CASES))
def test_ruleset_matches_golden(case: str, update_goldens: bool) -> None:
    text = rendered(case)
    golden = GOLDEN / f"{case}.nft"
    if update_goldens:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
        return
    if not golden.exists():
        pytest.fail(f"{golden} is missing: run pytest tests/enforce --update-goldens, then review")
    expected = golden.read_text()
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), str(golden), "rendered"
            )
        )
        pytest.fail(f"render_ruleset changed for {case} (--update-goldens if intended):\n{diff}")


def test_rendering_is_deterministic() -> None:
    for case in CASES:
        assert rendered(case) == rendered(case)


def test_lab_variant_rejects_tcp_with_icmp() -> None:
    lab_text = rendered("deny-all-lab")
    assert "tcp reset" not in lab_text
    assert "meta l4proto tcp reject with icmpx type admin-prohibited" in lab_text
    assert "reject with tcp reset" in rendered("demo")


def test_host_network_pods_are_left_out() -> None:
    assert "192.168.0.1" not in rendered("dual-stack")


# ---- with root: the goldens are valid nftables, and `netpolicy enforce` loads them ---------


def _root_problems() -> list[str]:
    from netpolicy.lab import check_prerequisites

    return check_prerequisites()


@pytest.fixture
def throwaway_netns() -> Iterator[str]:
    problems = _root_problems()
    if problems:
        pytest.skip("needs root, ip and nft: " + "; ".join(problems))
    name = f"np-g{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.lab
@pytest.mark.parametrize("case", sorted(CASES))
def test_nft_accepts_golden(case: str, throwaway_netns: str) -> None:
    text = (GOLDEN / f"{case}.nft").read_text()
    check = subprocess.run(
        ["ip", "netns", "exec", throwaway_netns, "nft", "-c", "-f", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def _netpolicy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netpolicy", *args], capture_output=True, text=True, check=False
    )


def _tables(netns: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "list", "tables"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.lab
def test_enforce_apply_stats_delete_in_a_netns(throwaway_netns: str) -> None:
    assert shutil.which("nft")
    applied = _netpolicy("enforce", "--apply", "--netns", throwaway_netns, "--table", "nptest")
    assert applied.returncode == 0, applied.stderr
    assert "table inet nptest loaded" in applied.stderr
    assert "table inet nptest" in _tables(throwaway_netns)
    listed = subprocess.run(
        ["ip", "netns", "exec", throwaway_netns, "nft", "list", "table", "inet", "nptest"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "shop/frontend-ingress ingress rule #1" in listed or "comment" in listed

    # applying again replaces the table atomically (no duplicate rules)
    again = _netpolicy("enforce", "--apply", "--netns", throwaway_netns, "--table", "nptest")
    assert again.returncode == 0, again.stderr

    stats = _netpolicy("enforce", "--stats", "--netns", throwaway_netns, "--table", "nptest")
    assert stats.returncode == 0, stats.stderr
    lines = [line for line in stats.stdout.splitlines() if line.strip()]
    assert lines and all(" pkts " in line for line in lines)
    assert any("isolated: no rule allows" in line for line in lines)
    printed = _netpolicy("enforce", "--print").stdout
    # every rule of a policy counts, and only those (chain comments and dispatch rules do not)
    rule_comments = {
        line.split('comment "', 1)[1].rstrip('"')
        for line in printed.splitlines()
        if 'comment "' in line and not line.strip().startswith("comment")
    }
    assert rule_comments == {line.split(maxsplit=5)[-1] for line in lines}

    deleted = _netpolicy("enforce", "--delete", "--netns", throwaway_netns, "--table", "nptest")
    assert deleted.returncode == 0 and "removed" in deleted.stderr
    assert "nptest" not in _tables(throwaway_netns)
    gone = _netpolicy("enforce", "--delete", "--netns", throwaway_netns, "--table", "nptest")
    assert gone.returncode == 0 and "was not loaded" in gone.stderr


def test_guardrail_rules_count_and_only_they_are_new() -> None:
    """Every tier rule has a counter and a comment `<policy> <direction> rule #k ... <action>`;
    the dispatch and `tier_denied` rules count nothing (the rule that denied counted)."""
    text = rendered("guardrails")
    tier_rules = [
        line.strip()
        for line in text.splitlines()
        if 'comment "' in line and ("ANP " in line or "BANP " in line or "CNP " in line)
    ]
    tier_rules = [line for line in tier_rules if not line.startswith("comment")]
    assert tier_rules and all(" counter " in line for line in tier_rules)
    assert all(line.endswith(('Allow"', 'Accept"', 'Deny"', 'Pass"')) for line in tier_rules)
    denied = text.split("chain tier_denied {", 1)[1].split("}", 1)[0]
    assert "counter" not in denied
    # Pass: Admin to the NetworkPolicy stage, Baseline to the default
    assert 'goto ingress_after_admin comment "ANP gate ingress rule #2 (ops-rest) Pass"' in text
    assert 'goto ingress comment "CNP outside egress rule #1 (dns-out) Pass"' in text


@pytest.mark.lab
def test_enforce_stats_shows_the_tier_rules(throwaway_netns: str, tmp_path: Path) -> None:
    manifests = tmp_path / "guardrails.yaml"
    manifests.write_text(GUARDRAILS)
    applied = _netpolicy(
        "enforce", "--apply", "--netns", throwaway_netns, "--table", "npguard", str(manifests)
    )
    assert applied.returncode == 0, applied.stderr
    try:
        stats = _netpolicy("enforce", "--stats", "--netns", throwaway_netns, "--table", "npguard")
        assert stats.returncode == 0, stats.stderr
        shown = {line.split(maxsplit=5)[-1] for line in stats.stdout.splitlines() if line.strip()}
        printed = render_ruleset(_cluster(GUARDRAILS, "guardrails"), RulesetOptions())
        rule_comments = {
            line.split('comment "', 1)[1].rstrip('"')
            for line in printed.splitlines()
            if 'comment "' in line and not line.strip().startswith("comment")
        }
        assert rule_comments == shown
        assert "ANP gate ingress rule #2 (ops-rest) Pass" in shown
        assert "BANP default ingress rule #1 (deny-from-ops) Deny" in shown
        assert "CNP late ingress rule #1 Deny" in shown
    finally:
        _netpolicy("enforce", "--delete", "--netns", throwaway_netns, "--table", "npguard")
