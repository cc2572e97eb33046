"""deploy/rbac.yaml grants get and list on exactly the kinds the live reader lists."""

from __future__ import annotations

from pathlib import Path

import yaml

from netpolicy.load.live import RESOURCES

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"


def test_the_cluster_role_grants_exactly_what_is_read():
    docs = list(yaml.safe_load_all(RBAC.read_text()))
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    granted = set()
    for rule in role["rules"]:
        assert sorted(rule["verbs"]) == ["get", "list"]
        granted |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == {(r.group, r.plural) for r in RESOURCES}


def test_the_binding_gives_the_role_to_the_service_account():
    docs = list(yaml.safe_load_all(RBAC.read_text()))
    kinds = {d["kind"]: d for d in docs}
    binding, account = kinds["ClusterRoleBinding"], kinds["ServiceAccount"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": kinds["ClusterRole"]["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
