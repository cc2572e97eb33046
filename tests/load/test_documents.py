"""Reading documents: multi-document YAML, JSON, Lists, positions, broken input."""

from __future__ import annotations

import pytest
import yaml

from netpolicy.load import load_manifests, load_text, yamltext

from ._helpers import DATA, load, of


def test_multi_document_yaml_loads_every_object() -> None:
    result = load_manifests([DATA / "multi.yaml"])
    cluster = result.cluster
    assert [ns.name for ns in cluster.namespaces] == ["shop"]
    assert [p.key for p in cluster.pods] == ["shop/web-1"]
    assert [p.key for p in cluster.policies] == ["shop/allow-web"]
    assert not of(result, "error")


def test_document_index_and_object_lines() -> None:
    cluster = load_manifests([DATA / "multi.yaml"]).cluster
    assert (cluster.namespaces[0].source.line, cluster.namespaces[0].source.doc) == (2, 0)
    assert (cluster.pods[0].source.line, cluster.pods[0].source.doc) == (9, 1)
    # The comment-only document in between is not counted.
    assert (cluster.policies[0].source.line, cluster.policies[0].source.doc) == (26, 2)


def test_policy_field_lines() -> None:
    policy = load_manifests([DATA / "multi.yaml"]).cluster.policies[0]
    rule = policy.ingress[0]
    assert rule.source.line == 36
    assert rule.source.path == "spec.ingress[0]"
    assert rule.peers[1].source.line == 40
    assert rule.peers[1].source.path == "spec.ingress[0].from[1]"
    assert rule.ports[0].source.line == 45
    assert rule.ports[0].port == "http"


def test_error_line_points_at_the_field() -> None:
    result = load(
        """\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p}
        spec:
          ingress:
          - from:
            - ipBlock:
                cidr: 10.0.0.0/8
                except: [10.1.0.0/16, 11.0.0.0/16]
        """
    )
    [error] = of(result, "error")
    assert error.source.line == 9
    assert error.source.path == "spec.ingress[0].from[0].ipBlock.except[1]"
    assert str(error).startswith("t.yaml:9: error: ")


def test_json_list_items_and_their_lines() -> None:
    result = load_manifests([DATA / "list.json"])
    pods = result.cluster.pods
    assert [p.key for p in pods] == ["x/a", "x/b"]
    assert pods[0].ip == "fd00::1"
    assert [p.source.line for p in pods] == [5, 11]
    warning, no_policy = of(result, "warning")
    assert no_policy.code == "no-policies"  # the file has pods but no NetworkPolicy
    assert warning.source.line == 11
    assert warning.source.path == "spec.containers[0].ports[0].containerPort"
    assert pods[1].ports == ()


def test_json_array_of_other_values_is_an_error_and_the_rest_loads() -> None:
    result = load_manifests([DATA / "array.json", DATA / "dir"])
    [error] = of(result, "error")
    assert "cannot unmarshal array into Go value of type unstructured.detector" in error.message
    assert error.source.file.endswith("array.json")
    assert [ns.name for ns in result.cluster.namespaces] == ["a", "b"]


def test_json_array_of_objects_is_read() -> None:
    text = (
        '[{"kind": "Namespace", "metadata": {"name": "a"}},\n'
        ' {"kind": "Namespace", "metadata": {"name": "b"}}]'
    )
    result = load_text(text, "x.json")
    assert [(n.name, n.source.line) for n in result.cluster.namespaces] == [("a", 1), ("b", 2)]


def test_invalid_json_is_located() -> None:
    result = load_text('{"kind": "Pod",\n "metadata": }', "bad.json")
    [error] = of(result, "error")
    assert error.message.startswith("invalid JSON: Expecting value")
    assert error.source.line == 2


def test_kind_list_in_yaml_and_typed_lists() -> None:
    result = load(
        """\
        apiVersion: v1
        kind: List
        items:
        - kind: Pod
          metadata: {name: a}
        - kind: PodList
          items:
          - kind: Pod
            metadata: {name: b}
        ---
        kind: NetworkPolicyList
        items:
        - kind: NetworkPolicy
          metadata: {name: p}
        ---
        kind: DeploymentList
        items: []
        """
    )
    assert [p.name for p in result.cluster.pods] == ["a", "b"]
    assert [p.source.line for p in result.cluster.pods] == [4, 8]
    assert [p.name for p in result.cluster.policies] == ["p"]
    assert not of(result, "error")


def test_items_of_a_typed_list_may_leave_out_their_kind() -> None:
    result = load(
        """\
        kind: PodList
        apiVersion: v1
        items:
        - metadata: {name: a}
        ---
        kind: NamespaceList
        items:
        - metadata: {name: n}
        """
    )
    assert [p.name for p in result.cluster.pods] == ["a"]
    assert "n" in [ns.name for ns in result.cluster.namespaces]
    assert not of(result, "warning")


def test_windows_line_endings() -> None:
    text = "kind: Namespace\nmetadata: {name: a}\n---\nkind: Namespace\nmetadata: {name: b}\n"
    text = text.replace("\n", "\r\n")
    result = load_text(text)
    assert [(n.name, n.source.line) for n in result.cluster.namespaces] == [("a", 1), ("b", 4)]
    assert not of(result, "error")


def test_broken_yaml_document_is_reported_and_the_rest_loads() -> None:
    result = load_manifests([DATA / "broken"])
    [error] = of(result, "error")
    assert "found character that cannot start any token" in error.message
    assert error.source.line == 10
    assert error.source.doc == 1
    assert [p.name for p in result.cluster.pods] == ["ok-before", "ok-after", "other-file"]


def test_tab_indentation_is_an_error_at_its_line() -> None:
    # tab.yaml line 6 is "\t  app: tabbed": kubectl (go-yaml) fails there with
    # "found character that cannot start any token"; the document is not loaded.
    result = load_manifests([DATA / "tab.yaml"])
    [error] = of(result, "error")
    assert error.source.line == 6
    assert "found character that cannot start any token (line 6, column 1)" in error.message
    assert "TAB" in error.message
    assert result.cluster.pods == ()


@pytest.mark.parametrize("loader", [yamltext.PureLoader, yamltext.LOADER])
def test_tab_inside_a_flow_sequence_loads_with_either_loader(
    loader: type[yaml.SafeLoader], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yamltext, "LOADER", loader)
    result = load_manifests([DATA / "tab-flow.yaml"])
    assert not of(result, "error")
    assert [w.name for w in result.cluster.workloads] == ["flow"]


def test_not_a_mapping_and_no_kind_are_warnings() -> None:
    result = load(
        """\
        - just
        - a list
        ---
        metadata: {name: nokind}
        ---
        plain text
        """
    )
    warnings = of(result, "warning")
    assert [w.source.line for w in warnings] == [1, 4, 6]
    assert "no kind" in warnings[1].message
    assert not of(result, "error")


def test_other_kinds_are_skipped_with_info() -> None:
    result = load(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c}
        ---
        apiVersion: crd.projectcalico.org/v1
        kind: NetworkPolicy
        metadata: {name: calico}
        spec: {selector: all()}
        """
    )
    infos = [d.message for d in of(result, "info")]
    assert "skipping object with kind ConfigMap" in infos
    assert any("kind NetworkPolicy of apiVersion crd.projectcalico.org/v1" in m for m in infos)
    assert result.cluster.policies == ()


def test_yaml_scalars_anchors_and_merge_keys() -> None:
    result = load(
        """\
        kind: List
        items:
        - kind: Pod
          metadata:
            name: p
            labels: &l {app: web, date: 2021-01-01}
          spec:
            containers:
            - ports:
              - {containerPort: 0x50}
        - kind: Pod
          metadata:
            name: q
            labels:
              <<: *l
              app: other
        """
    )
    p, q = result.cluster.pods
    assert p.labels == (("app", "web"), ("date", "2021-01-01"))
    assert p.ports[0].port == 80
    assert q.labels == (("app", "other"), ("date", "2021-01-01"))


def test_recursive_alias_is_an_error_not_a_crash() -> None:
    result = load("kind: Pod\nmetadata: &m {name: x, self: *m}\n")
    assert of(result, "error")
