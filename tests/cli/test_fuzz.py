"""Mangled manifests through `netpolicy connlist`: a diagnostic and exit 0 or 2, never a crash.

Each input is a valid namespace and pod followed by one broken object: wrong types at every
level of a NetworkPolicy, impossible values, binary garbage, huge numbers, unicode.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from ._helpers import describe, invoke, no_traceback, run

PREFIX = """\
apiVersion: v1
kind: Namespace
metadata: {name: q, labels: {team: q}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: q, labels: {app: p}}
spec: {containers: [{name: main, image: i, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.9.0.1}
---
"""


def policy(
    spec: str, *, meta: str = "{name: np, namespace: q}", kind: str = "NetworkPolicy"
) -> str:
    return f"apiVersion: networking.k8s.io/v1\nkind: {kind}\nmetadata: {meta}\nspec: {spec}\n"


def ingress(rule: str) -> str:
    return policy(f"{{podSelector: {{}}, ingress: [{rule}]}}")


def peer(p: str) -> str:
    return ingress(f"{{from: [{p}]}}")


def port(p: str) -> str:
    return ingress(f"{{ports: [{p}]}}")


MANGLED: dict[str, str] = {
    # the object and its metadata
    "kind-is-a-list": policy("{podSelector: {}}", kind="[NetworkPolicy]"),
    "no-apiversion": "kind: NetworkPolicy\nmetadata: {name: np, namespace: q}\nspec: {}\n",
    "metadata-is-a-string": policy("{podSelector: {}}", meta="hello"),
    "name-is-a-list": policy("{podSelector: {}}", meta="{name: [1, 2], namespace: q}"),
    "namespace-is-an-int": policy("{podSelector: {}}", meta="{name: np, namespace: 7}"),
    "labels-are-a-list": policy("{podSelector: {}}", meta="{name: np, namespace: q, labels: [a]}"),
    # spec
    "spec-is-a-string": policy("just text"),
    "spec-is-a-list": policy("[1, 2, 3]"),
    "null-spec": policy("null"),  # valid: the zero spec, podSelector {} and Ingress
    "podselector-is-a-string": policy("{podSelector: app=p}"),
    "matchlabels-is-a-list": policy("{podSelector: {matchLabels: [app, p]}}"),
    "matchlabels-value-is-a-list": policy("{podSelector: {matchLabels: {app: [1, 2]}}}"),
    "matchlabels-value-is-null": policy("{podSelector: {matchLabels: {app: null}}}"),
    "matchexpressions-is-a-string": policy("{podSelector: {matchExpressions: In}}"),
    "matchexpression-unknown-operator": policy(
        "{podSelector: {matchExpressions: [{key: 1, operator: Near, values: 3}]}}"
    ),
    "matchexpression-without-key": policy("{podSelector: {matchExpressions: [{operator: In}]}}"),
    "policytypes-is-a-string": policy("{podSelector: {}, policyTypes: Ingress}"),
    "policytypes-unknown": policy("{podSelector: {}, policyTypes: [Sideways, 1, null]}"),
    # rules
    "ingress-is-a-mapping": policy("{podSelector: {}, ingress: {from: []}}"),
    "ingress-rule-is-a-string": ingress('"allow everything"'),
    "egress-rule-is-a-number": policy("{podSelector: {}, egress: [42]}"),
    "from-is-a-string": ingress("{from: everyone}"),
    "peer-is-a-list": peer("[podSelector]"),
    "peer-is-empty": peer("{}"),
    "peer-with-unknown-field": peer("{serviceAccount: default}"),
    "ipblock-is-a-string": peer("{ipBlock: 10.0.0.0/8}"),
    "ipblock-bad-cidr": peer("{ipBlock: {cidr: 300.1.1.1/8}}"),
    "ipblock-cidr-is-a-list": peer("{ipBlock: {cidr: [10.0.0.0/8]}}"),
    "ipblock-except-is-a-string": peer("{ipBlock: {cidr: 10.0.0.0/8, except: 10.1.0.0/16}}"),
    "ipblock-mixed-families": peer('{ipBlock: {cidr: 10.0.0.0/8, except: ["2001:db8::/64"]}}'),
    "ipblock-and-selector": peer("{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}"),
    # ports
    "ports-is-a-mapping": ingress("{ports: {port: 80}}"),
    "port-huge-int": port("{port: 99999999999999999999999999999999999999}"),
    "port-negative": port("{port: -1}"),
    "port-float": port("{port: 1.5}"),
    "port-bool": port("{port: true}"),
    "port-empty-string": port('{port: "", endPort: 5}'),
    "port-name-too-long": port("{port: " + "n" * 300 + "}"),
    "protocol-icmp": port("{protocol: ICMP, port: 1}"),
    "protocol-lowercase": port("{protocol: tcp, port: 80}"),
    "endport-huge": port("{port: 80, endPort: 1e400}"),
    "endport-string": port("{port: 80, endPort: ninety}"),
    "endport-without-port": port("{endPort: 90}"),
    # other kinds, broken
    "pod-bad-ip-and-ports": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: z, namespace: q}\n"
        "spec: {containers: [{name: c, ports: [{containerPort: 70000}, x, {name: [1]}]}]}\n"
        "status: {podIP: not-an-ip, phase: [Running]}\n"
    ),
    "pod-containers-is-a-string": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: z, namespace: q}\nspec: {containers: c}\n"
    ),
    "namespace-labels-list": "apiVersion: v1\nkind: Namespace\nmetadata: {name: w, labels: [1]}\n",
    "deployment-template-null": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: q}\n"
        "spec: {replicas: many, template: null}\n"
    ),
    "cronjob-template-string": (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: q}\n"
        "spec: {jobTemplate: {spec: {template: nope}}}\n"
    ),
    "list-items-string": "apiVersion: v1\nkind: List\nitems: not-a-list\n",
    "list-items-scalars": "apiVersion: v1\nkind: List\nitems: [1, null, [2], {kind: 3}]\n",
    # documents and encodings
    "top-level-scalar": "42\n",
    "top-level-list": "- a\n- b\n",
    "empty-documents": "---\n---\n\n---\n",
    "tabs-in-indentation": "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: t\n",
    "duplicate-keys": policy("{podSelector: {}, podSelector: []}"),
    "yaml-tags": policy("!!python/object:os.system {podSelector: {}}"),
    "recursive-alias": policy("&a {podSelector: {}, ingress: [*a]}"),
    "deep-nesting": policy("[" * 2000 + "]" * 2000),
    "unicode-everywhere": policy(
        '{podSelector: {matchLabels: {"äpp": "日本語"}}, '
        'ingress: [{from: [{podSelector: {matchLabels: {"\u202eevil": "🙂"}}}]}]}',
        meta='{name: "ñp-🙂", namespace: "q\u0000"}',
    ),
    "rich-markup-in-names": policy(
        "{podSelector: {matchLabels: {'[/x]': '[bold]'}}, policyTypes: ['[/Ingress]']}",
        meta="{name: '[/bold]', namespace: '[red]q'}",
    ),
    "huge-label-value": policy("{podSelector: {matchLabels: {app: " + "v" * 200_000 + "}}}"),
    "bom-and-crlf": "\ufeff" + policy("{podSelector: {}}").replace("\n", "\r\n"),
    "json-with-nan": '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": NaN}}',
}


def binary_garbage(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


BINARY: dict[str, bytes] = {
    "binary-garbage": binary_garbage(1, 4096),
    "binary-after-valid-yaml": PREFIX.encode() + binary_garbage(2, 512),
    "latin-1-text": ("metadata: {name: caf" + "\xe9" + "}\n").encode("latin-1"),
    "nul-bytes": b"apiVersion: v1\x00\nkind: Pod\x00\n",
}


def write_inputs(tmp_path: Path) -> list[tuple[str, Path]]:
    paths = []
    for name, body in MANGLED.items():
        suffix = ".json" if name.startswith("json") else ".yaml"
        path = tmp_path / f"{name}{suffix}"
        path.write_text(
            body if name.startswith(("json", "top", "empty", "bom")) else PREFIX + body,
            encoding="utf-8",
        )
        paths.append((name, path))
    for name, data in BINARY.items():
        path = tmp_path / f"{name}.yaml"
        path.write_bytes(data)
        paths.append((name, path))
    return paths


def test_there_are_enough_mangled_inputs():
    assert len(MANGLED) + len(BINARY) >= 30


NAMES = [*MANGLED, *BINARY]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return dict(write_inputs(tmp_path_factory.mktemp("mangled")))


@pytest.mark.parametrize("name", NAMES)
def test_mangled_manifest_never_crashes_connlist(inputs, name):
    """In-process, so that a bug shows as an exception (the real `main()` would hide it)."""
    result = invoke("connlist", "-o", "json", str(inputs[name]))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 0:
        assert json.loads(result.stdout)["kind"] == "ConnectivityList"


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith(("spec-", "port-"))])
def test_mangled_object_is_reported_with_its_file_and_line(inputs, name):
    result = invoke("connlist", str(inputs[name]))
    assert re.search(rf"{re.escape(inputs[name].name)}:\d+: error", result.stderr), result.stderr


def test_all_mangled_manifests_at_once_through_the_real_program(inputs):
    proc = run("connlist", "-o", "json", str(next(iter(inputs.values())).parent))
    assert proc.returncode == 0, describe(proc)  # the valid pods still make a result
    assert no_traceback(proc), describe(proc)
    assert "internal error" not in proc.stderr, describe(proc)
    assert json.loads(proc.stdout)["connections"]
