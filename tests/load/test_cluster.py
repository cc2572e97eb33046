"""Assembling the cluster: namespaces, duplicates, pods, workloads and their stand-in pods."""

from __future__ import annotations

import pytest

from netpolicy.load.cluster import API_GROUPS
from netpolicy.model import NAMESPACE_NAME_LABEL, WORKLOAD_KINDS, ContainerPort, OwnerRef

from ._helpers import load, of


def test_namespaces_get_the_automatic_label_and_undeclared_ones_are_added() -> None:
    result = load(
        """\
        kind: Namespace
        metadata:
          name: shop
          labels: {team: web, kubernetes.io/metadata.name: wrong}
        ---
        kind: Pod
        metadata: {name: a, namespace: shop}
        ---
        kind: Pod
        metadata: {name: b}
        ---
        kind: NetworkPolicy
        metadata: {name: p, namespace: other}
        """
    )
    namespaces = {ns.name: ns for ns in result.cluster.namespaces}
    assert list(namespaces) == ["default", "other", "shop"]
    assert namespaces["shop"].labels == ((NAMESPACE_NAME_LABEL, "shop"), ("team", "web"))
    assert namespaces["shop"].declared
    for name in ("default", "other"):
        assert namespaces[name].labels == ((NAMESPACE_NAME_LABEL, name),)
        assert not namespaces[name].declared
    infos = [d for d in of(result, "info") if d.code == "undeclared-namespace"]
    assert sorted(d.source.line for d in infos) == [9, 12]
    assert result.cluster.pods[1].namespace == "default"


def test_duplicates_are_warnings_and_the_later_wins_as_in_a_cluster() -> None:
    result = load(
        """\
        kind: Pod
        metadata: {name: a, labels: {v: "1"}}
        ---
        kind: Pod
        metadata: {name: a, labels: {v: "2"}}
        ---
        kind: NetworkPolicy
        metadata: {name: a}
        """
    )
    [warning] = of(result, "warning")
    assert warning.message == (
        "duplicate Pod default/a (also defined at t.yaml:1); the later definition wins, "
        "as when both are applied to a cluster"
    )
    assert warning.source.line == 4
    assert [p.labels for p in result.cluster.pods] == [(("v", "2"),)]
    assert len(result.cluster.policies) == 1
    [dup] = result.cluster.duplicates
    assert (dup.kind, dup.key, dup.first.line, dup.later.line) == ("Pod", "default/a", 1, 4)


def test_pod_fields() -> None:
    [pod] = load(
        """\
        kind: Pod
        metadata:
          name: web-abc
          namespace: shop
          labels: {app: web}
          ownerReferences:
          - {kind: Other, name: x}
          - {kind: ReplicaSet, name: web-5d8f, controller: true}
        spec:
          initContainers:
          - ports: [{containerPort: 1}]
          containers:
          - ports: [{containerPort: 8080, name: http}, {containerPort: 53, protocol: UDP}]
          - ports: [{containerPort: 9090, protocol: SCTP}]
        status: {phase: Running, podIP: 10.1.2.3, podIPs: [{ip: 10.1.2.3}, {ip: "fd00::3"}]}
        """
    ).cluster.pods
    assert pod.ip == "10.1.2.3"
    assert pod.owner == OwnerRef("ReplicaSet", "web-5d8f")
    assert pod.ports == (
        ContainerPort(8080, "TCP", "http"),
        ContainerPort(53, "UDP"),
        ContainerPort(9090, "SCTP"),
    )
    assert not pod.from_template and not pod.host_network


@pytest.mark.parametrize(
    ("port", "path"),
    [
        ("{containerPort: 70000}", "containerPort"),
        ("{containerPort: '80'}", "containerPort"),
        ("{containerPort: 80, protocol: ICMP}", "protocol"),
        ("{containerPort: 80, name: web_1}", "name"),
    ],
)
def test_bad_container_port_is_dropped_with_a_warning(port: str, path: str) -> None:
    result = load(f"kind: Pod\nmetadata: {{name: a}}\nspec:\n  containers:\n  - ports: [{port}]\n")
    [warning] = of(result, "warning")
    assert warning.source.path == f"spec.containers[0].ports[0].{path}"
    assert result.cluster.pods[0].ports == ()


def test_static_pod_owned_by_a_node_has_no_owner() -> None:
    text = (
        "kind: Pod\nmetadata:\n  name: a\n"
        "  ownerReferences: [{kind: Node, name: n, controller: true}]\n"
    )
    assert load(text).cluster.pods[0].owner is None


def test_finished_pods_are_ignored_with_info() -> None:
    result = load(
        """\
        kind: Pod
        metadata: {name: done}
        status: {phase: Succeeded}
        ---
        kind: Pod
        metadata: {name: failed}
        status: {phase: Failed}
        ---
        kind: Pod
        metadata: {name: pending}
        status: {phase: Pending}
        """
    )
    assert [p.name for p in result.cluster.pods] == ["pending"]
    assert sum(d.code == "finished-pod" for d in result.diagnostics) == 2


def test_host_network_pod_is_kept_and_marked() -> None:
    result = load("kind: Pod\nmetadata: {name: h}\nspec: {hostNetwork: true}\n")
    [pod] = result.cluster.pods
    assert pod.host_network
    [info] = [d for d in result.diagnostics if d.code == "host-network"]
    assert "not subject to NetworkPolicy" in info.message
    assert info.source.line == 3


def test_pod_ip_malformed_is_dropped_with_a_warning() -> None:
    result = load("kind: Pod\nmetadata: {name: a}\nstatus: {podIP: 10.0.0.300}\n")
    assert result.cluster.pods[0].ip is None
    assert of(result, "warning")[0].source.path == "status.podIP"


def _workload(kind: str, template: str) -> str:
    api = {"Job": "batch/v1", "CronJob": "batch/v1", "ReplicationController": "v1"}
    return (
        f"apiVersion: {api.get(kind, 'apps/v1')}\nkind: {kind}\n"
        f"metadata: {{name: w, namespace: ns}}\n{template}"
    )


TEMPLATE = """\
    template:
      metadata: {labels: {app: w}}
      spec:
        containers: [{ports: [{containerPort: 80, name: http}]}]
"""


@pytest.mark.parametrize(
    ("kind", "text", "replicas"),
    [
        ("Deployment", "spec:\n  replicas: 3\n" + TEMPLATE[2:], 3),
        ("StatefulSet", "spec:\n" + TEMPLATE[2:], 1),
        ("DaemonSet", "spec:\n" + TEMPLATE[2:], 1),
        ("ReplicaSet", "spec:\n  replicas: 0\n" + TEMPLATE[2:], 0),
        ("Job", "spec:\n  parallelism: 2\n" + TEMPLATE[2:], 2),
        (
            "CronJob",
            "spec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n"
            + "\n".join("    " + line for line in TEMPLATE.splitlines())
            + "\n",
            1,
        ),
    ],
)
def test_each_workload_kind_gets_one_stand_in_pod(kind: str, text: str, replicas: int) -> None:
    result = load(_workload(kind, text))
    assert not of(result, "error") and not of(result, "warning")
    [workload] = result.cluster.workloads
    assert (workload.kind, workload.key, workload.replicas) == (kind, f"ns/w[{kind}]", replicas)
    assert workload.labels == (("app", "w"),)
    assert workload.ports == (ContainerPort(80, "TCP", "http"),)
    [pod] = result.cluster.pods
    assert pod.from_template and pod.ip is None
    assert (pod.namespace, pod.name, pod.labels, pod.ports) == (
        "ns",
        "w",
        (("app", "w"),),
        workload.ports,
    )
    assert pod.owner == OwnerRef(kind, "w")


def test_replication_controller_labels_default_from_its_selector() -> None:
    text = "spec:\n  selector: {app: rc}\n  template:\n    spec: {containers: [{}]}\n"
    result = load(_workload("ReplicationController", text))
    assert result.cluster.workloads[0].labels == (("app", "rc"),)
    assert result.cluster.pods[0].labels == (("app", "rc"),)


def test_workload_with_live_pods_gets_no_stand_in() -> None:
    result = load(
        _workload("ReplicaSet", "spec:\n" + TEMPLATE[2:])
        + "---\nkind: Pod\nmetadata:\n  name: w-1\n  namespace: ns\n"
        "  ownerReferences: [{kind: ReplicaSet, name: w, controller: true}]\n"
        "---\nkind: Pod\nmetadata:\n  name: w-2\n  namespace: ns\n"
        "  ownerReferences: [{kind: ReplicaSet, name: w, controller: true}]\n"
    )
    assert [(p.name, p.from_template) for p in result.cluster.pods] == [
        ("w-1", False),
        ("w-2", False),
    ]
    assert result.cluster.pods[0].owner == OwnerRef("ReplicaSet", "w")


def test_owned_workload_stands_for_its_owner() -> None:
    deployment = _workload("Deployment", "spec:\n" + TEMPLATE[2:])
    replica_set = _workload("ReplicaSet", "spec:\n" + TEMPLATE[2:]).replace(
        "name: w,",
        "name: w-5d8f, ownerReferences: [{kind: Deployment, name: w, controller: true}],",
    )
    result = load(deployment + "---\n" + replica_set)
    assert len(result.cluster.workloads) == 2
    assert [(p.name, p.owner) for p in result.cluster.pods] == [
        ("w-5d8f", OwnerRef("ReplicaSet", "w-5d8f"))
    ]


def test_pod_in_another_namespace_does_not_cover_a_workload() -> None:
    result = load(
        _workload("Deployment", "spec:\n" + TEMPLATE[2:])
        + "---\nkind: Pod\nmetadata:\n  name: x\n  namespace: elsewhere\n"
        "  ownerReferences: [{kind: Deployment, name: w, controller: true}]\n"
    )
    assert sorted(p.name for p in result.cluster.pods) == ["w", "x"]


def test_workload_type_errors_are_reported_once() -> None:
    result = load(_workload("CronJob", "spec:\n  jobTemplate: [1]\n"))
    [error] = of(result, "error")
    assert error.source.path == "spec.jobTemplate"
    assert result.cluster.workloads == ()


def test_every_workload_kind_is_dispatched() -> None:
    assert set(API_GROUPS) == {"Namespace", "Pod", "NetworkPolicy", *WORKLOAD_KINDS}
