"""Pods of one controller share their converted parts, and still get every diagnostic."""

from __future__ import annotations

import json

from netpolicy.load import load_text

from ._helpers import of


def _pod(name: str, *, labels: object, port: object = 8080, controller: object = True) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-5d4f8",
                    "controller": controller,
                }
            ],
        },
        "spec": {
            "containers": [{"name": "web", "ports": [{"name": "http", "containerPort": port}]}]
        },
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    }


def _load(*pods: dict) -> object:
    # one pod per line, so each diagnostic's line tells which pod it is about
    text = '{"kind": "List", "apiVersion": "v1", "items": [\n'
    text += ",\n".join(json.dumps(p) for p in pods) + "\n]}\n"
    return load_text(text, "pods.json")


def test_replicas_share_labels_ports_and_owner() -> None:
    result = _load(*(_pod(f"web-5d4f8-{i}", labels={"app": "web"}) for i in range(3)))
    a, b, c = result.cluster.pods
    assert a.labels == (("app", "web"),) and a.ports[0].port == 8080
    assert a.labels is b.labels is c.labels
    assert a.ports is b.ports is c.ports
    assert a.owner is b.owner is c.owner
    assert not of(result, "warning") and not of(result, "error")


def test_a_repeated_problem_is_reported_at_every_pod() -> None:
    bad = {"app": "web", "bad key!": "x"}
    result = _load(_pod("web-1", labels=bad), _pod("web-2", labels=dict(bad)))
    assert [w.source.line for w in of(result, "warning")] == [2, 3]


def test_a_port_number_equal_only_as_a_float_is_still_rejected() -> None:
    # 8080.0 == 8080 in Python, but the API wants an integer
    result = _load(
        _pod("web-1", labels={"app": "web"}), _pod("web-2", labels={"app": "web"}, port=8080.0)
    )
    first, second = result.cluster.pods
    assert first.ports and not second.ports
    [warning] = of(result, "warning")
    assert warning.source.line == 3 and "containerPort" in warning.source.path


def test_controller_one_is_not_controller_true() -> None:
    # 1 == True in Python; `controller: 1` does not make the ReplicaSet the pod's controller
    result = _load(
        _pod("web-1", labels={"app": "web"}), _pod("web-2", labels={"app": "web"}, controller=1)
    )
    first, second = result.cluster.pods
    assert first.owner is not None and first.owner.name == "web-5d4f8"
    assert second.owner is None
