"""Every AdminNetworkPolicy / BaselineAdminNetworkPolicy scenario of the peer suite, converted
mechanically to ClusterNetworkPolicy (v1alpha2), gives the same connectivity.

The conversion is the one the API's migration describes: kind ClusterNetworkPolicy, an ANP
becomes `tier: Admin` with its priority, the BANP `tier: Baseline`; `Allow` becomes `Accept`;
`ports` become `protocols` (`portNumber` -> `<proto>.destinationPort.number`, `portRange` ->
`<proto>.destinationPort.range`, `namedPort` -> `destinationNamedPort`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import connection_list
from netpolicy.load import load_manifests, load_text
from netpolicy.load.sources import MANIFEST_SUFFIXES
from tests.admin.test_peer_connlist import admin_entries

V1ALPHA2 = "policy.networking.k8s.io/v1alpha2"


def _protocol(port: dict) -> dict:
    if "namedPort" in port:
        return {"destinationNamedPort": port["namedPort"]}
    if "portNumber" in port:
        number = port["portNumber"]
        proto = str(number.get("protocol", "TCP")).lower()
        return {proto: {"destinationPort": {"number": number["port"]}}}
    span = port["portRange"]
    proto = str(span.get("protocol", "TCP")).lower()
    if span["start"] == span["end"]:  # v1alpha2 ranges need start < end
        return {proto: {"destinationPort": {"number": span["start"]}}}
    return {proto: {"destinationPort": {"range": {"start": span["start"], "end": span["end"]}}}}


def convert(doc: dict) -> dict:
    """An ANP or BANP as the equivalent ClusterNetworkPolicy (other objects unchanged)."""
    kind = doc.get("kind")
    if kind not in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy"):
        return doc
    out = copy.deepcopy(doc)
    out["apiVersion"] = V1ALPHA2
    out["kind"] = "ClusterNetworkPolicy"
    spec = out.setdefault("spec", {})
    if kind == "BaselineAdminNetworkPolicy":
        spec["tier"] = "Baseline"
        spec["priority"] = 0
        out["metadata"]["name"] = "baseline-" + out["metadata"]["name"]
    else:
        spec["tier"] = "Admin"
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            if rule.get("action") == "Allow":
                rule["action"] = "Accept"
            if "ports" in rule:
                rule["protocols"] = [_protocol(p) for p in rule.pop("ports")]
    return out


def _documents(folder: Path) -> list[dict]:
    docs: list[dict] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in MANIFEST_SUFFIXES and path.is_file():
            loaded = list(yaml.safe_load_all(path.read_text().replace("\t", " ")))
            docs += [d for d in loaded if isinstance(d, dict)]
    return docs


def _table(cluster) -> set[tuple[str, str, object]]:  # type: ignore[no-untyped-def]
    result = compute_connectivity(cluster, host_network="pod")
    return {(c.src, c.dst, c.connections) for c in connection_list(result, workloads=True)}


def test_every_scenario_converted_to_cluster_network_policy(peer_suite: Path) -> None:
    folders = sorted({e["scenario_dir"] for e in admin_entries(peer_suite)})
    compared = 0
    for folder in folders:
        original = load_manifests([peer_suite / folder])
        if not original.cluster.cluster_policies:
            continue
        docs = _documents(peer_suite / folder)
        converted_docs = [convert(d) for d in docs]
        assert any(d.get("kind") == "ClusterNetworkPolicy" for d in converted_docs), folder
        converted = load_text(yaml.safe_dump_all(converted_docs), f"{folder}-as-cnp.yaml")
        assert not converted.errors, (folder, [str(e) for e in converted.errors])
        kinds = {p.kind for p in converted.cluster.cluster_policies}
        assert kinds == {"ClusterNetworkPolicy"}, folder
        assert len(converted.cluster.cluster_policies) == len(original.cluster.cluster_policies)
        assert _table(converted.cluster) == _table(original.cluster), folder
        compared += 1
    print(f"\n{compared} ANP/BANP scenarios converted to ClusterNetworkPolicy: same connectivity")
    assert compared >= 50


def test_conversion_is_mechanical() -> None:
    anp = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "a"},
        "spec": {
            "priority": 3,
            "subject": {"namespaces": {}},
            "ingress": [
                {
                    "action": "Allow",
                    "from": [{"namespaces": {}}],
                    "ports": [
                        {"portNumber": {"protocol": "UDP", "port": 53}},
                        {"portRange": {"start": 80, "end": 81}},
                        {"namedPort": "http"},
                    ],
                }
            ],
        },
    }
    assert json.loads(json.dumps(convert(anp)))["spec"] == {
        "priority": 3,
        "tier": "Admin",
        "subject": {"namespaces": {}},
        "ingress": [
            {
                "action": "Accept",
                "from": [{"namespaces": {}}],
                "protocols": [
                    {"udp": {"destinationPort": {"number": 53}}},
                    {"tcp": {"destinationPort": {"range": {"start": 80, "end": 81}}}},
                    {"destinationNamedPort": "http"},
                ],
            }
        ],
    }
