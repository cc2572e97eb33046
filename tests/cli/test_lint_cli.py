"""`netpolicy lint` as a user meets it: formats, exit codes, --disable, the config file, --list.

The embedded demo has, by the checks' design, no error, one warning (`dns-egress-blocked` from
shop/backend-egress) and info findings (namespaces without policies); DUPLICATE has one error.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netpolicy.analysis.lint import CHECKS
from netpolicy.cli._common import CLOSED_PIPE

from ..render._sarif_schema import schema_errors
from ._helpers import DEMO, describe, env, invoke, no_traceback, run, run_many

DUPLICATE = """\
apiVersion: v1
kind: Namespace
metadata: {name: q}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: q, labels: {app: web}}
spec: {containers: [{name: main, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: q}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: q}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""
DUPLICATE_LINE = 15
DNS = "dns-egress-blocked"
FINDING_KEYS = ["check", "severity", "object", "kind", "file", "line", "message", "fix"]


def lint_json(*args: str) -> tuple[int, dict]:
    result = invoke("lint", "-o", "json", *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """The current directory is an empty temporary one (no .netpolicy.yaml of the repo's)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- output --------------------------------------------------------------------------------


def test_text_groups_the_demo_findings_by_file_and_counts_them(in_tmp):
    result = invoke("lint")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "demo/shop.yaml"
    [dns] = [line for line in lines if f"[{DNS}]" in line]
    assert dns.startswith("demo/shop.yaml:")
    assert f": warning [{DNS}] shop/backend" in dns
    after = lines[lines.index(dns) + 1]
    assert after.startswith("    fix:")
    assert lines[-1] == "0 errors, 1 warning, 2 info"


def test_json_matches_the_contract(in_tmp):
    code, doc = lint_json()
    assert code == 0
    assert list(doc) == ["apiVersion", "kind", "findings"]
    assert (doc["apiVersion"], doc["kind"]) == ("netpolicy/v1", "LintReport")
    for finding in doc["findings"]:
        assert list(finding) == FINDING_KEYS
        assert finding["file"] == "demo/shop.yaml"
        assert finding["line"] >= 1
        assert finding["message"]
        assert finding["fix"]
    [dns] = [f for f in doc["findings"] if f["check"] == DNS]
    assert dns["severity"] == "warning"
    assert dns["kind"] == "NetworkPolicy"
    assert dns["object"] == "shop/backend-egress"
    assert {f["severity"] for f in doc["findings"]} == {"warning", "info"}


def test_sarif_of_the_demo_is_valid_and_names_each_check(in_tmp):
    result = invoke("lint", "-o", "sarif")
    assert result.exit_code == 0, result.output
    log = json.loads(result.stdout)
    assert schema_errors(log) == []
    [run_] = log["runs"]
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == [c.id for c in CHECKS]
    [dns] = [r for r in run_["results"] if r["ruleId"] == DNS]
    assert dns["level"] == "warning"
    location = dns["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "demo/shop.yaml"
    assert location["region"]["startLine"] >= 1


def test_sarif_uri_is_the_path_as_given(tmp_path, monkeypatch):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "dup.yaml").write_text(DUPLICATE)
    monkeypatch.chdir(tmp_path)
    result = invoke("lint", "-o", "sarif", "deploy/dup.yaml")
    assert result.exit_code == 1, result.output
    log = json.loads(result.stdout)
    assert schema_errors(log) == []
    [error] = [r for r in log["runs"][0]["results"] if r["level"] == "error"]
    assert error["ruleId"] == "duplicate-object"
    assert error["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "deploy/dup.yaml"},
        "region": {"startLine": DUPLICATE_LINE},
    }


def test_disabled_checks_have_no_sarif_rule(in_tmp):
    result = invoke("lint", "-o", "sarif", "--disable", DNS)
    log = json.loads(result.stdout)
    rules = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert DNS not in rules
    assert len(rules) == len(CHECKS) - 1
    assert all(r["ruleId"] != DNS for r in log["runs"][0]["results"])


# --- exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), 0),  # --fail-on error: the demo has none
        (("--fail-on", "error"), 0),
        (("--fail-on", "warning"), 1),
        (("--fail-on", "info"), 1),
        (("--fail-on", "warning", "--disable", DNS), 0),
        (("--fail-on", "info", "--disable", DNS), 1),
        (("--fail-on", "info", "--disable", DNS, "--disable", "namespace-without-policies"), 0),
        (("--fail-on", "info", "--disable", f"{DNS},namespace-without-policies"), 0),
    ],
)
def test_exit_code_follows_fail_on(in_tmp, args, code):
    result = invoke("lint", *args)
    assert result.exit_code == code, result.output


def test_an_error_finding_fails_by_default(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATE)
    code, doc = lint_json(str(path))
    assert code == 1
    [error] = [f for f in doc["findings"] if f["severity"] == "error"]
    assert (error["check"], error["file"], error["line"]) == (
        "duplicate-object",
        str(path),
        DUPLICATE_LINE,
    )
    assert error["object"] == "q/deny-all"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "xml"), "xml output format is not supported"),
        (("--fail-on", "fatal"), "--fail-on fatal"),
        (("--disable", "dns-egres-blocked"), "did you mean 'dns-egress-blocked'"),
        (("--list", "-o", "sarif"), "--list prints text or json"),
        (("--config", "missing.yaml"), "missing.yaml: error: config file does not exist"),
    ],
)
def test_bad_usage_exits_2_with_a_message(in_tmp, args, message):
    result = invoke("lint", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unreadable_input_exits_2(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = invoke("lint", str(missing))
    assert result.exit_code == 2, result.output
    assert f"{missing}: does not exist" in result.stderr


def test_load_diagnostics_go_to_stderr(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATE)
    result = invoke("lint", "-o", "json", str(path))
    assert "duplicate NetworkPolicy q/deny-all" in result.stderr
    json.loads(result.stdout)  # stdout is the document alone


# --- the config file -----------------------------------------------------------------------


def test_default_config_in_the_current_directory_is_read(in_tmp):
    (in_tmp / ".netpolicy.yaml").write_text(f"disable: [{DNS}]\n")
    code, doc = lint_json("--fail-on", "warning")
    assert code == 0
    assert all(f["check"] != DNS for f in doc["findings"])


def test_config_severity_override(in_tmp):
    (in_tmp / ".netpolicy.yaml").write_text(f"severity:\n  {DNS}: error\n")
    code, doc = lint_json()
    assert code == 1
    [dns] = [f for f in doc["findings"] if f["check"] == DNS]
    assert dns["severity"] == "error"


def test_config_under_a_lint_key(in_tmp):
    (in_tmp / ".netpolicy.yaml").write_text(
        "lint:\n  disable: [namespace-without-policies]\n  severity: {dns-egress-blocked: info}\n"
    )
    code, doc = lint_json("--fail-on", "warning")
    assert code == 0
    assert [(f["check"], f["severity"]) for f in doc["findings"]] == [(DNS, "info")]


def test_explicit_config_is_used_instead_of_the_default(in_tmp):
    (in_tmp / ".netpolicy.yaml").write_text("this: is [not valid\n")
    other = in_tmp / "lint.yaml"
    other.write_text(f"disable: [{DNS}]\n")
    code, doc = lint_json("--config", str(other), "--fail-on", "warning")
    assert code == 0
    assert all(f["check"] != DNS for f in doc["findings"])


def test_config_and_command_line_disable_add_up(in_tmp):
    (in_tmp / ".netpolicy.yaml").write_text(f"disable: [{DNS}]\n")
    code, doc = lint_json("--disable", "namespace-without-policies", "--fail-on", "info")
    assert code == 0
    assert doc["findings"] == []


def test_config_warnings_are_shown_and_the_run_goes_on(in_tmp):
    (in_tmp / ".netpolicy.yaml").write_text(f"other-tool: {{}}\ndisable: [{DNS}]\n")
    result = invoke("lint", "--fail-on", "warning")
    assert result.exit_code == 0, result.output
    assert ".netpolicy.yaml:1: warning: unknown field 'other-tool' ignored" in result.stderr
    assert "note: lint settings from .netpolicy.yaml" in result.stderr


def test_bad_config_exits_2_with_located_messages(in_tmp):
    (in_tmp / ".netpolicy.yaml").write_text(
        "disable:\n  - broad-peer\n  - brod-peer\nseverity:\n  redundant: critical\n"
    )
    result = invoke("lint")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr
    assert (
        ".netpolicy.yaml:3: error: unknown check 'brod-peer' (did you mean 'broad-peer'?) "
        "(disable[1])" in err
    )
    assert (
        ".netpolicy.yaml:5: error: severity must be one of error, warning, info, not "
        "'critical' (severity.redundant)" in err
    )


def test_invalid_yaml_config_exits_2(in_tmp):
    (in_tmp / "bad.yaml").write_text("disable: [unclosed\n")
    result = invoke("lint", "--config", "bad.yaml")
    assert result.exit_code == 2, result.output
    assert "bad.yaml:2: error: invalid YAML" in result.stderr


def test_config_of_the_wrong_shape_exits_2(in_tmp):
    (in_tmp / ".netpolicy.yaml").write_text("- disable\n- redundant\n")
    result = invoke("lint")
    assert result.exit_code == 2, result.output
    assert ".netpolicy.yaml:1: error: must be a mapping, not a list" in result.stderr


# --- --list --------------------------------------------------------------------------------


def test_list_prints_every_check_with_its_severity_and_explanation(in_tmp):
    result = invoke("lint", "--list")
    assert result.exit_code == 0, result.output
    text = result.stdout
    flat = " ".join(text.split())
    for check in CHECKS:
        assert f"{check.id}  {check.severity}" in text
        assert " ".join(check.explanation.split()) in flat


def test_list_as_json(in_tmp):
    result = invoke("lint", "--list", "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(c["id"], c["severity"]) for c in doc["checks"]] == [(c.id, c.severity) for c in CHECKS]


# --- the real program ----------------------------------------------------------------------


def test_the_real_program_without_traceback(tmp_path):
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("severity: [x]\n")
    procs = run_many(
        [
            ["lint"],
            ["lint", "-o", "sarif", str(DEMO), "--fail-on", "warning"],
            ["lint", "-o", "bogus"],
            ["lint", "--config", str(bad_config)],
            ["lint", str(tmp_path / "nope.yaml")],
            ["lint", "--list"],
        ]
    )
    assert [p.returncode for p in procs] == [0, 1, 2, 2, 2, 0], [describe(p) for p in procs]
    assert all(no_traceback(p) for p in procs), [describe(p) for p in procs]
    assert schema_errors(json.loads(procs[1].stdout)) == []
    assert f"{bad_config}:1: error: must be a mapping, not a list (severity)" in procs[3].stderr


def test_stdin_input():
    proc = run("lint", "-", "-o", "json", stdin=DUPLICATE)
    assert proc.returncode == 1, describe(proc)
    [error] = json.loads(proc.stdout)["findings"]
    assert error["file"] == "<stdin>"


@pytest.mark.parametrize("args", [("-o", "json"), ("-o", "sarif"), (), ("--list",)])
def test_a_closed_pipe_ends_quietly(args):
    proc = subprocess.Popen(
        [sys.executable, "-m", "netpolicy", "lint", "--fail-on", "info", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the first write
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == CLOSED_PIPE
    assert stderr.decode() == ""
