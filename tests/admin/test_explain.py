"""`explain` shows the tier chain that decided each side (text and JSON); `connlist` lists
what the class engine decides with the tiers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli._helpers import invoke

SCENARIO = "tests/anp_test_3_pass_traffic"


def test_explain_shows_pass_then_network_policy(peer_suite: Path) -> None:
    folder = str(peer_suite / SCENARIO)
    result = invoke("explain", "foo-ns-1/foo", "bar-ns/bar", "--port", "8080/TCP", folder)
    assert result.exit_code == 1, result.output  # denied
    assert (
        "ANP pub-svc-delegate-example egress rule #2 Pass -> "
        "NP foo-ns-1/restrict-egress-to-bar-ns (isolated, no rule) Deny"
    ) in result.output
    result = invoke("explain", "foo-ns-1/foo", "bar-ns/bar", "--port", "9090/TCP", folder)
    assert result.exit_code == 0, result.output
    assert "NP foo-ns-1/restrict-egress-to-bar-ns egress rule #1 Allow" in result.output


def test_explain_json_carries_the_tiers(peer_suite: Path) -> None:
    folder = str(peer_suite / SCENARIO)
    result = invoke(
        "explain", "foo-ns-1/foo", "bar-ns/bar", "--port", "80/TCP", folder, "-o", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["allowed"] is True
    (step,) = data["egress"]["tiers"]
    assert step["tier"] == "Admin" and step["action"] == "Allow"
    assert step["rule"] == "ANP pub-svc-delegate-example egress rule #1"
    assert step["ports"] == [{"protocol": "TCP", "from": 80, "to": 80}]


def test_connlist_applies_the_tiers(peer_suite: Path) -> None:
    result = invoke("connlist", str(peer_suite / SCENARIO), "-o", "json")
    assert result.exit_code == 0, result.output
    rows = {(c["src"], c["dst"]): c for c in json.loads(result.stdout)["connections"]}
    ports = rows["foo-ns-1/foo[Deployment]", "bar-ns/bar[Deployment]"]["ports"]
    assert ports == [
        {"protocol": "TCP", "from": 1, "to": 8079},
        {"protocol": "TCP", "from": 8081, "to": 65535},
    ]
