"""The command line as a user meets it: the demo, every output format, exit codes, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._helpers import ALLOWED, DEMO, DENIED, describe, env, invoke, no_traceback, run, run_many

GOOD_FILE = """\
apiVersion: v1
kind: Namespace
metadata: {name: q}
---
apiVersion: v1
kind: Pod
metadata: {name: good, namespace: q, labels: {app: good}}
spec: {containers: [{name: main, image: i, ports: [{containerPort: 80}]}]}
status: {podIP: 10.9.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: q, labels: {app: other}}
spec: {containers: [{name: main, image: i}]}
status: {podIP: 10.9.0.2}
"""

BAD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: broken
  labels: {app: [unclosed
"""

# One valid and one invalid policy (endPort < port, line 15 here) to append to GOOD_FILE.
POLICIES = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: good-only-from-other, namespace: q}
spec:
  podSelector: {matchLabels: {app: good}}
  ingress: [{from: [{podSelector: {matchLabels: {app: other}}}], ports: [{port: 80}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad-range, namespace: q}
spec:
  podSelector: {matchLabels: {app: other}}
  ingress:
    - ports: [{port: 100, endPort: 90}]
"""
BAD_RANGE_LINE = GOOD_FILE.count("\n") + 15


def connlist_json(text: str) -> dict[tuple[str, str], dict]:
    doc = json.loads(text)
    assert doc["apiVersion"] == "netpolicy/v1"
    assert doc["kind"] == "ConnectivityList"
    return {(c["src"], c["dst"]): c for c in doc["connections"]}


# --- analyze -------------------------------------------------------------------------------


def test_analyze_without_arguments_analyzes_the_embedded_demo():
    proc = run("analyze")
    assert proc.returncode == 0, describe(proc)
    first = proc.stdout.splitlines()[0]
    assert "Analyzing" in first
    assert "embedded demo" in first
    assert no_traceback(proc)


# --- connlist: the five formats on the demo -----------------------------------------------


@pytest.fixture(scope="module")
def demo_pairs() -> set[tuple[str, str]]:
    result = invoke("connlist", "-o", "json")
    assert result.exit_code == 0, result.output
    return set(connlist_json(result.stdout))


def test_connlist_json_matches_the_contract(demo_pairs):
    result = invoke("connlist", "-o", "json")
    doc = json.loads(result.stdout)
    assert set(doc) == {"apiVersion", "kind", "connections"}
    assert doc["connections"], "the demo has allowed connections"
    for c in doc["connections"]:
        assert set(c) == {"src", "dst", "all", "ports"}
        assert c["src"] != c["dst"], "self pairs are left out"
        assert c["ports"], "only pairs with at least one allowed port are listed"
        for p in c["ports"]:
            assert set(p) == {"protocol", "from", "to"}
            assert p["protocol"] in ("TCP", "UDP", "SCTP")
            assert 1 <= p["from"] <= p["to"] <= 65535
        full = sorted((p["protocol"], p["from"], p["to"]) for p in c["ports"])
        assert c["all"] == (full == [("SCTP", 1, 65535), ("TCP", 1, 65535), ("UDP", 1, 65535)])
    assert ("shop/frontend[Deployment]", "shop/backend[Deployment]") in demo_pairs
    assert ("default/debug", "shop/backend[Deployment]") not in demo_pairs


def test_connlist_txt(demo_pairs):
    result = invoke("connlist")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    pattern = re.compile(r"^(\S+) => (\S+) : (.+)$")
    matches = [pattern.match(line) for line in lines]
    assert all(matches), lines[:5]
    assert {m.group(1, 2) for m in matches if m} == demo_pairs
    assert "shop/frontend[Deployment] => shop/backend[Deployment] : TCP 8080" in lines


def test_connlist_csv(demo_pairs):
    result = invoke("connlist", "-o", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["src", "dst", "conn"]
    assert all(len(r) == 3 for r in rows)
    assert {(r[0], r[1]) for r in rows[1:]} == demo_pairs


def test_connlist_md(demo_pairs):
    result = invoke("connlist", "-o", "md")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "| src | dst | conn |"
    assert set(lines[1]) <= set("|- :")
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert {(c[0], c[1]) for c in cells} == demo_pairs


def test_connlist_dot(demo_pairs):
    result = invoke("connlist", "-o", "dot")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("digraph")
    assert text.rstrip().endswith("}")
    edges = set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', text, re.MULTILINE))
    assert edges == demo_pairs


@pytest.mark.parametrize("fmt", ["txt", "json", "csv", "md", "dot"])
def test_connlist_formats_through_the_real_program(fmt):
    proc = run("connlist", "-o", fmt, str(DEMO))
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip()
    assert no_traceback(proc)


@pytest.mark.parametrize("command", ["connlist", "explain"])
def test_unknown_output_format_exits_2(command):
    args = [command, *(ALLOWED if command == "explain" else ()), "-o", "bogus"]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "bogus" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- explain -------------------------------------------------------------------------------


def test_explain_exit_codes_follow_the_verdict():
    allowed, denied = run_many(
        [["explain", *ALLOWED, "--port", "8080/TCP"], ["explain", *DENIED, "--port", "8080/TCP"]]
    )
    assert allowed.returncode == 0, describe(allowed)
    assert denied.returncode == 1, describe(denied)
    assert "ALLOWED" in allowed.stdout
    assert "DENIED" in denied.stdout


@pytest.mark.parametrize(
    ("pair", "code", "allowed"), [(ALLOWED, 0, True), (DENIED, 1, False)], ids=["allowed", "denied"]
)
def test_explain_json_parses(pair, code, allowed):
    result = invoke("explain", *pair, "--port", "8080/TCP", "-o", "json")
    assert result.exit_code == code, result.output
    doc = json.loads(result.stdout)
    assert doc["allowed"] is allowed
    assert doc["protocol"] == "TCP"
    assert doc["port"] == 8080


@pytest.mark.parametrize(
    ("port", "protocol", "number", "code"),
    [
        ("80/TCP", "TCP", 80, 1),  # backend listens on 8080 only: denied
        ("8080/TCP", "TCP", 8080, 0),
        ("TCP/8080", "TCP", 8080, 0),
        ("8080", "TCP", 8080, 0),
        ("UDP/53", "UDP", 53, 1),
        ("53/udp", "UDP", 53, 1),
        ("http", "TCP", "http", 0),  # backend's container port named http (8080)
        ("http/TCP", "TCP", "http", 0),
    ],
)
def test_explain_port_forms(port, protocol, number, code):
    result = invoke("explain", *ALLOWED, "--port", port, "-o", "json")
    assert result.exit_code == code, result.output
    doc = json.loads(result.stdout)
    assert (doc["protocol"], doc["port"]) == (protocol, number)


BAD_PORTS = ["99999", "0", "a/b/c", "80/TCP/x", "TCP/UDP", "/"]


def test_explain_bad_port_exits_2_with_a_message():
    procs = run_many([["explain", *ALLOWED, "--port", p] for p in BAD_PORTS])
    wrong = [
        (port, describe(proc))
        for port, proc in zip(BAD_PORTS, procs, strict=True)
        if proc.returncode != 2 or "--port" not in proc.stderr or not no_traceback(proc)
    ]
    assert not wrong, "\n\n".join(f"--port {p}: {d}" for p, d in wrong)


def test_explain_unknown_endpoint_exits_2():
    result = invoke("explain", "shop/nope", "shop/backend")
    assert result.exit_code == 2, result.output
    assert "shop/nope" in result.stderr


def test_user_text_with_brackets_is_shown_verbatim():
    """Messages echo what the user typed; `[/x]` is text, not terminal markup to interpret."""
    procs = run_many([["connlist", "-o", "[/x]"], ["explain", "shop/[/b]", "shop/backend"]])
    for proc in procs:
        assert proc.returncode == 2, describe(proc)
        assert "[/" in proc.stderr, describe(proc)
        assert no_traceback(proc), describe(proc)


# --- input: paths, directories, stdin -----------------------------------------------------


def test_nonexistent_path_exits_2_naming_it(tmp_path):
    missing = tmp_path / "no-such-dir" / "policies.yaml"
    proc = run("connlist", str(missing))
    assert proc.returncode == 2, describe(proc)
    assert str(missing) in proc.stderr
    assert no_traceback(proc)


def test_empty_directory_exits_2(tmp_path):
    result = invoke("connlist", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert str(tmp_path) in result.stderr


def test_a_malformed_file_does_not_hide_the_good_one(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    (tmp_path / "good.yaml").write_text(GOOD_FILE)
    proc = run("connlist", "-o", "json", str(tmp_path))
    assert proc.returncode == 0, describe(proc)
    assert re.search(r"bad\.yaml:\d+", proc.stderr), describe(proc)
    pairs = connlist_json(proc.stdout)
    assert ("q/other", "q/good") in pairs
    assert no_traceback(proc)


def test_invalid_policy_is_reported_and_the_rest_analyzed(tmp_path):
    path = tmp_path / "all.yaml"
    path.write_text(GOOD_FILE + POLICIES)
    result = invoke("connlist", "-o", "json", str(path))
    assert result.exit_code == 0, result.output
    assert f"all.yaml:{BAD_RANGE_LINE}" in result.stderr, result.stderr
    assert "spec.ingress[0].ports[0].endPort" in result.stderr
    pairs = connlist_json(result.stdout)
    # the valid policy applies: q/good accepts only q/other, on TCP 80
    assert pairs[("q/other", "q/good")]["ports"] == [{"protocol": "TCP", "from": 80, "to": 80}]
    assert not any(dst == "q/good" and src != "q/other" for src, dst in pairs)
    # the invalid one is left out: q/other stays open
    assert pairs[("q/good", "q/other")]["all"] is True


def test_dash_reads_stdin():
    proc = run("connlist", "-", "-o", "json", stdin=GOOD_FILE + POLICIES)
    assert proc.returncode == 0, describe(proc)
    pairs = connlist_json(proc.stdout)
    assert ("q/other", "q/good") in pairs
    assert "<stdin>" in proc.stderr  # the invalid policy, located in stdin


def test_dash_reads_stdin_in_process():
    result = invoke("connlist", "-", "-o", "csv", stdin=GOOD_FILE)
    assert result.exit_code == 0, result.output
    assert "q/good,q/other,All Connections" in result.stdout.splitlines()


# --- kubectl plugin -------------------------------------------------------------------------


def _plugin_path() -> str:
    scripts = str(Path(sys.executable).parent)
    return os.pathsep.join([os.environ.get("PATH", ""), scripts])


def test_kubectl_plugin_script_is_installed():
    assert shutil.which("kubectl-netpolicy", path=_plugin_path()), (
        "kubectl-netpolicy is not on PATH (pip install -e . installs it)"
    )


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_finds_the_plugin():
    proc = subprocess.run(
        ["kubectl", "netpolicy", "connlist", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env(), "PATH": _plugin_path()},
        check=False,
    )
    assert proc.returncode == 0, describe(proc)
    assert connlist_json(proc.stdout)
