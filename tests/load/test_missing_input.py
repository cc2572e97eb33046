"""Say what the input lacks, as netpol-analyzer does: no workloads or pods, no NetworkPolicy."""

from __future__ import annotations

import io
from pathlib import Path

from netpolicy import api
from netpolicy.load import load_manifests

from ._helpers import DATA, of

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}}
"""


def _codes(paths: list[str | Path], stdin: str = "") -> list[tuple[str, str]]:
    result = load_manifests(paths, stdin=io.StringIO(stdin))
    return [(d.code, str(d.source)) for d in of(result, "warning")]


def test_no_network_policy_is_a_warning(peer_suite: Path) -> None:
    # netpol-analyzer: "no relevant Kubernetes network policy resources found"
    scenario = peer_suite / "tests" / "no_netpols_dir"
    result = load_manifests([scenario])
    [warning] = of(result, "warning")
    assert warning.code == "no-policies"
    assert str(warning) == (
        f"{scenario}: warning: no NetworkPolicy in the input: no pod is isolated, "
        "every connection is allowed"
    )
    assert result.cluster.pods


def test_no_pods_and_no_workloads_is_a_warning() -> None:
    assert _codes(["-"], POLICY) == [("no-workloads", "<stdin>")]


def test_irrelevant_resources_and_a_policy_lack_workloads(peer_suite: Path) -> None:
    # netpol-analyzer: "no relevant Kubernetes workload resources found" (an IngressClass
    # and a NetworkPolicy)
    path = peer_suite / "tests" / "bad_yamls" / "irrelevant_k8s_resources.yaml"
    assert _codes([path]) == [("no-workloads", str(path))]


def test_an_input_of_other_kinds_lacks_both() -> None:
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
    assert [code for code, _ in _codes(["-"], other)] == ["no-workloads", "no-policies"]


def test_a_workload_is_enough_and_every_path_is_named() -> None:
    deployment = DATA / "tab-flow.yaml"  # a Deployment, no pods
    assert _codes([deployment, "-"], POLICY) == []
    assert _codes([deployment]) == [("no-policies", str(deployment))]


def test_nothing_is_said_when_nothing_could_be_read() -> None:
    result = load_manifests([DATA / "broken" / "no-such-file.yaml"])
    assert of(result, "error")
    assert not of(result, "warning")


def test_the_embedded_demo_lacks_nothing() -> None:
    demo = api.load_input([])
    assert demo.demo
    assert not [d for d in demo.diagnostics if d.code in ("no-workloads", "no-policies")]
