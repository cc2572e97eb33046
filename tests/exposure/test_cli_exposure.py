"""`netpolicy connlist --exposure` as a user runs it: txt and json, and analyze's section."""

from __future__ import annotations

import json

from tests.cli._helpers import invoke, run
from tests.exposure.test_exposure import CLUSTER


def test_txt_follows_the_connection_list():
    result = invoke("connlist", "-", "--exposure", stdin=CLUSTER)
    assert result.exit_code == 0, result.output
    connections, _, exposure = result.stdout.partition("\nExposure Analysis Result:\n")
    # the connection list, unchanged: b-pod is matched by two of web's rules (7000, 9000)
    assert "b/b-pod => a/web : TCP 7000,9000\n" in connections
    assert exposure.startswith("Egress Exposure:\n")
    assert "a/web    =>  c/[all pods] : TCP http\n" in exposure
    assert "a/web    <=  a/[pod with {app=new}] : TCP 8080,9000\n" in exposure
    assert "b/b-pod  <=  entire-cluster : All Connections\n" in exposure
    assert exposure.endswith("b/b-pod is not protected on Egress\n")


def test_json_is_one_connectivity_list_with_exposure():
    result = invoke("connlist", "-", "--exposure", "-o", "json", stdin=CLUSTER)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "ConnectivityList"
    assert {
        "src": "b/b-pod",
        "dst": "a/web",
        "all": False,
        "ports": [
            {"protocol": "TCP", "from": 7000, "to": 7000},
            {"protocol": "TCP", "from": 9000, "to": 9000},
        ],
    } in doc["connections"]
    exposure = doc["exposure"]
    assert set(exposure) == {"ingress", "egress", "unprotected"}
    assert {
        "workload": "a/web",
        "peer": {"namespace": "c", "podSelector": {}},
        "all": False,
        "ports": [{"protocol": "TCP", "name": "http"}],
    } in exposure["egress"]
    assert exposure["unprotected"] == [
        {"workload": "b/b-pod", "direction": "ingress"},
        {"workload": "b/b-pod", "direction": "egress"},
    ]


def test_focus_applies_to_exposure_and_other_formats_carry_it():
    result = invoke("connlist", "-", "--exposure", "-o", "json", "--focus", "a/web", stdin=CLUSTER)
    assert result.exit_code == 0, result.output
    exposure = json.loads(result.stdout)["exposure"]
    assert {i["workload"] for i in exposure["ingress"] + exposure["egress"]} == {"a/web"}
    for fmt, marker in (
        ("md", "## Exposure Analysis Result:"),
        ("csv", "Exposure Analysis Result:"),
    ):
        out = invoke("connlist", "-", "--exposure", "-o", fmt, stdin=CLUSTER)
        assert out.exit_code == 0 and marker in out.stdout, out.output
    dot = invoke("connlist", "-", "--exposure", "-o", "dot", stdin=CLUSTER).stdout
    assert '"a/web" -> "c/[all pods]" [label="TCP http"' in dot and dot.endswith("}\n")


def test_without_the_flag_nothing_changes():
    plain = invoke("connlist", "-", "-o", "json", stdin=CLUSTER)
    assert "exposure" not in json.loads(plain.stdout)


def test_analyze_names_the_widely_exposed_workloads():
    proc = run("analyze", "-", stdin=CLUSTER)
    assert proc.returncode == 0, proc.stderr
    section = proc.stdout.split("Exposed to the entire cluster or outside", 1)[1]
    rows = {line.split()[0]: line for line in section.splitlines()[2:4]}
    # web: ingress from namespaceSelector: {}; egress only to one ipBlock
    assert rows["a/web"].split()[1:] == ["entire", "cluster", "outside"]
    # b-pod: no policy isolates it
    assert rows["b/b-pod"].split()[1:] == ["entire", "cluster,", "outside"] * 2
