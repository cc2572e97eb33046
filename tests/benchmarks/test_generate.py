"""The benchmark generator: same seed, same bytes; S has the promised contents.

S is shaped so that label-based deduplication (nca keeps at most two pods per namespace and
label set) hides little: many small workloads, StatefulSet pods with their unique labels.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
import yaml

from ._scripts import load_script

generate = load_script("generate")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "meta.json"
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("a")
    generate.generate("S", 1, out)
    return out / "S"


def test_same_seed_same_bytes(small: Path, tmp_path: Path) -> None:
    generate.generate("S", 1, tmp_path)
    again = _files(tmp_path / "S")
    assert {"cluster.json", "cluster.yaml", "nca/namespaces/namespaces.yaml"} <= set(again)
    assert again == _files(small)


def test_other_seed_other_cluster(small: Path, tmp_path: Path) -> None:
    generate.generate("S", 2, tmp_path, "json")
    assert (tmp_path / "S" / "cluster.json").read_bytes() != (small / "cluster.json").read_bytes()


def test_small_counts_and_shapes(small: Path) -> None:
    items = json.loads((small / "cluster.json").read_text())["items"]
    by_kind: dict[str, list[dict]] = {}
    for item in items:
        by_kind.setdefault(item["kind"], []).append(item)
    pods, policies = by_kind["Pod"], by_kind["NetworkPolicy"]
    assert len(pods) == 200
    assert len(policies) == 100
    meta = json.loads((small / "meta.json").read_text())
    assert meta["counts"]["pods"] == 200
    assert meta["counts"]["policies"] == 100

    ips = [ipaddress.ip_address(p["status"]["podIP"]) for p in pods]
    assert len(set(ips)) == len(ips)
    assert all(ip in ipaddress.ip_network("10.0.0.0/8") for ip in ips)
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert all(p["metadata"]["ownerReferences"][0]["controller"] is True for p in pods)

    dns = [p for p in pods if p["metadata"]["labels"].get("k8s-app") == "kube-dns"]
    assert dns and all(p["metadata"]["namespace"] == "kube-system" for p in dns)
    container = dns[0]["spec"]["containers"][0]
    ports = {(q["name"], q["containerPort"], q["protocol"]) for q in container["ports"]}
    assert {("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")} <= ports

    deployments = {d["metadata"]["name"] for d in by_kind["Deployment"]}
    for pod in pods:
        owner = pod["metadata"]["ownerReferences"][0]
        if owner["kind"] == "ReplicaSet":
            deploy, _, template_hash = owner["name"].rpartition("-")
            assert deploy in deployments
            assert pod["metadata"]["labels"]["pod-template-hash"] == template_hash

    # many small workloads; pods mostly distinct by (namespace, labels)
    workloads = by_kind["Deployment"] + by_kind["StatefulSet"] + by_kind["DaemonSet"]
    assert len(workloads) >= 100
    assert meta["counts"]["workloads"] == len(workloads)
    small_ones = [w for w in workloads if 1 <= w["spec"].get("replicas", 0) <= 3]
    assert len(small_ones) >= 0.9 * len(workloads)
    label_sets = {
        (p["metadata"]["namespace"], tuple(sorted(p["metadata"]["labels"].items()))) for p in pods
    }
    assert 150 <= len(label_sets) <= 200
    assert meta["counts"]["label_sets"] == len(label_sets)

    statefulsets = {s["metadata"]["name"] for s in by_kind["StatefulSet"]}
    for pod in pods:
        owner = pod["metadata"]["ownerReferences"][0]
        labels = pod["metadata"]["labels"]
        if owner["kind"] == "StatefulSet":
            assert owner["name"] in statefulsets
            name = pod["metadata"]["name"]
            assert labels["statefulset.kubernetes.io/pod-name"] == name
            assert labels["apps.kubernetes.io/pod-index"] == name.rsplit("-", 1)[1]
            assert labels["controller-revision-hash"].startswith(owner["name"] + "-")

    # the DaemonSet has one pod on every node
    daemon = [p for p in pods if p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"]
    nodes = {p["spec"]["nodeName"] for p in pods}
    assert sorted(p["spec"]["nodeName"] for p in daemon) == sorted(nodes)
    assert len({tuple(sorted(p["metadata"]["labels"].items())) for p in daemon}) == 1

    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in policies]
    assert len(set(names)) == len(names)
    for ns in by_kind["Namespace"][2:]:
        assert (ns["metadata"]["name"], "default-deny-all") in names
        assert (ns["metadata"]["name"], "allow-dns-egress") in names


def test_yaml_holds_the_same_objects(small: Path) -> None:
    from_json = json.loads((small / "cluster.json").read_text())["items"]
    with (small / "cluster.yaml").open() as f:
        from_yaml = list(yaml.load_all(f, Loader=yaml.CSafeLoader))
    assert from_yaml == from_json
