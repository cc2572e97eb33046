"""Arbitrary data where manifests expect structure: diagnostics, never a traceback."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy.load import load_text

KEYS = [
    "kind", "metadata", "name", "namespace", "labels", "spec", "podSelector", "ingress",
    "egress", "from", "to", "ports", "port", "endPort", "protocol", "ipBlock", "cidr",
    "except", "namespaceSelector", "matchLabels", "matchExpressions", "key", "operator",
    "values", "policyTypes", "template", "containers", "containerPort", "status", "podIP",
    "items", "ownerReferences", "controller", "jobTemplate", "replicas", "hostNetwork",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.sampled_from(["", "TCP", "In", "Exists", "10.0.0.0/8", "x", "-", "80", "Ingress"]),
    st.text(max_size=5),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=25,
)
KINDS = st.sampled_from(
    ["NetworkPolicy", "Pod", "Namespace", "Deployment", "CronJob", "ReplicationController", "List"]
)


@settings(max_examples=300, deadline=None)
@given(kind=KINDS, body=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5))
def test_random_objects_never_raise(kind: str, body: dict[str, object]) -> None:
    obj = {**body, "kind": kind}
    for text, name in ((json.dumps(obj), "x.json"), (json.dumps(obj, indent=1), "x.yaml")):
        result = load_text(text, name)
        assert all(d.source.file == name for d in result.diagnostics)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab:-[]{}\t\n #&*!|>'\"%@`,?", max_size=60))
def test_random_yaml_text_never_raises(text: str) -> None:
    load_text(text, "x.yaml")
    load_text(text, "x.json")


def _policy(value: object, where: str) -> dict[str, object]:
    peer = {"podSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]}]}}
    block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
    port = {"port": 80, "endPort": 90, "protocol": "TCP"}
    spots: dict[str, object] = {
        "peer": peer, "selector": peer["podSelector"], "block": block["ipBlock"], "port": port,
        "expression": peer["podSelector"]["matchExpressions"][0],  # type: ignore[index]
    }  # fmt: skip
    target = spots[where]
    assert isinstance(target, dict)
    for key in list(target):
        target[key] = value
    rule = {"from": [peer, block], "ports": [port]}
    return {"kind": "NetworkPolicy", "metadata": {"name": "p"}, "spec": {"ingress": [rule]}}


@settings(max_examples=300, deadline=None)
@given(value=VALUES, where=st.sampled_from(["peer", "selector", "block", "port", "expression"]))
def test_random_values_deep_in_a_policy_never_raise(value: object, where: str) -> None:
    load_text(json.dumps(_policy(value, where)), "p.json")
