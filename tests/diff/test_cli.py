"""`netpolicy diff`: every format on a hand-checked change, `--fail-on-removed`, `--base REV`
in a throwaway git repository, and bad input (exit 2, located, never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli._helpers import env, invoke

NS = """\
apiVersion: v1
kind: Namespace
metadata: {name: x}
"""


def _pod(name: str, ip: str) -> str:
    return f"""\
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: x, labels: {{app: {name}}}}}
spec: {{containers: [{{name: c, image: i, ports: [{{containerPort: 80}}]}}]}}
status: {{podIP: {ip}}}
"""


def _allow_from_a(ports: str) -> str:
    return f"""\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: b-ingress, namespace: x}}
spec:
  podSelector: {{matchLabels: {{app: b}}}}
  ingress:
  - from: [{{podSelector: {{matchLabels: {{app: a}}}}}}]
    ports: [{ports}]
"""


# Before: x/b admits x/a on TCP 80-81 and nothing else. After: only TCP 80, and a new pod x/c
# that no policy selects.
OLD = NS + _pod("a", "10.0.0.1") + _pod("b", "10.0.0.2") + _allow_from_a("{port: 80, endPort: 81}")
NEW = OLD.replace("{port: 80, endPort: 81}", "{port: 80}") + _pod("c", "10.0.0.3")

ALL = [
    {"protocol": "TCP", "from": 1, "to": 65535},
    {"protocol": "UDP", "from": 1, "to": 65535},
    {"protocol": "SCTP", "from": 1, "to": 65535},
]
EVERYWHERE = "0.0.0.0-255.255.255.255"
# by hand: c is open both ways to everything except b (which admits only a)
EXPECTED = [
    {"src": EVERYWHERE, "dst": "x/c", "change": "added", "before": [], "after": ALL},
    {
        "src": "x/a",
        "dst": "x/b",
        "change": "changed",
        "before": [{"protocol": "TCP", "from": 80, "to": 81}],
        "after": [{"protocol": "TCP", "from": 80, "to": 80}],
    },
    {"src": "x/a", "dst": "x/c", "change": "added", "before": [], "after": ALL},
    {"src": "x/b", "dst": "x/c", "change": "added", "before": [], "after": ALL},
    {"src": "x/c", "dst": EVERYWHERE, "change": "added", "before": [], "after": ALL},
    {"src": "x/c", "dst": "x/a", "change": "added", "before": [], "after": ALL},
]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "old.yaml").write_text(OLD)
    (tmp_path / "new.yaml").write_text(NEW)
    return str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netpolicy", "diff", *args],
        capture_output=True,
        text=True,
        env=env(),
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_json_is_the_contract(pair):
    result = invoke("diff", *pair, "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {"apiVersion": "netpolicy/v1", "kind": "ConnectivityDiff", "changes": EXPECTED}


def test_nothing_changed_is_an_empty_list(pair):
    result = invoke("diff", pair[0], pair[0], "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["changes"] == []
    text = invoke("diff", pair[0], pair[0], "--fail-on-removed")
    assert text.exit_code == 0
    assert "no change in allowed connections" in text.stdout


def test_txt_opens_with_the_summary(pair):
    result = invoke("diff", *pair)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == (
        "Connectivity diff: 6 changes (5 added, 0 removed, 1 changed); "
        "1 pair loses previously allowed ports"
    )
    summary = result.stdout.split("\nChanges")[0]
    assert "New exposure (2 destinations more sources reach):" in summary
    # x/c: from x/a, x/b and the outside; x/a: from the new x/c
    assert "  x/c: newly reachable from 2 pods or workloads and 1 outside range" in summary
    assert "  x/a: newly reachable from 1 pod or workload" in summary
    assert "isolated" not in summary
    body = result.stdout.split("Changes (src => dst : change before -> after)\n")[1]
    assert body.splitlines() == [
        f"{EVERYWHERE} => x/c : added All Connections",
        "x/a => x/b : changed TCP 80-81 -> TCP 80",
        "x/a => x/c : added All Connections",
        "x/b => x/c : added All Connections",
        f"x/c => {EVERYWHERE} : added All Connections",
        "x/c => x/a : added All Connections",
    ]


def test_csv_and_md(pair):
    csv = invoke("diff", *pair, "-o", "csv")
    assert csv.exit_code == 0
    rows = csv.stdout.splitlines()
    assert rows[0] == "src,dst,change,before,after"
    assert rows[2] == "x/a,x/b,changed,TCP 80-81,TCP 80"
    assert rows[3] == "x/a,x/c,added,,All Connections"
    assert len(rows) == 1 + len(EXPECTED)
    md = invoke("diff", *pair, "-o", "md")
    assert md.exit_code == 0
    assert md.stdout.startswith("### Connectivity diff")
    assert "| x/a | x/b | changed | TCP 80-81 | TCP 80 |" in md.stdout
    assert "| x/a | x/c | added |  | All Connections |" in md.stdout
    assert md.stdout.count("\n| ") == 1 + len(EXPECTED)  # the header and the rows


def test_fail_on_removed(pair):
    # narrowing TCP 80-81 to TCP 80 removes port 81: exit 1, in every format
    for fmt in ("txt", "json", "csv", "md"):
        assert invoke("diff", *pair, "-o", fmt, "--fail-on-removed").exit_code == 1, fmt
    # the reverse change only adds (81 back, and x/c's traffic goes: that removes)
    assert invoke("diff", pair[1], pair[0], "--fail-on-removed").exit_code == 1
    assert invoke("diff", *pair).exit_code == 0  # without the flag: 0


def test_only_additions_do_not_fail(tmp_path: Path):
    (tmp_path / "old.yaml").write_text(OLD)
    wider = OLD.replace("{port: 80, endPort: 81}", "{port: 80, endPort: 90}")
    (tmp_path / "new.yaml").write_text(wider)
    result = invoke("diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "-o", "json")
    assert json.loads(result.stdout)["changes"] == [
        {
            "src": "x/a",
            "dst": "x/b",
            "change": "changed",
            "before": [{"protocol": "TCP", "from": 80, "to": 81}],
            "after": [{"protocol": "TCP", "from": 80, "to": 90}],
        }
    ]
    flagged = invoke(
        "diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--fail-on-removed"
    )
    assert flagged.exit_code == 0


DENY_ALL_INGRESS = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x}
spec: {podSelector: {}}
"""


def test_summary_names_newly_isolated_pods_and_what_they_lose(tmp_path: Path):
    old = NS + _pod("a", "10.0.0.1") + _pod("b", "10.0.0.2")
    (tmp_path / "old.yaml").write_text(old)
    (tmp_path / "new.yaml").write_text(old + DENY_ALL_INGRESS)
    result = invoke("diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"))
    assert result.exit_code == 0, result.output
    summary = result.stdout.split("\nChanges")[0]
    # each pod loses the other and the outside range, entirely
    assert "Become isolated for ingress (2):" in summary
    assert "  x/a: loses traffic from 2 peers (2 entirely)" in summary
    assert "  x/b: loses traffic from 2 peers (2 entirely)" in summary
    assert f"    e.g. {EVERYWHERE} => x/a : All Connections -> No Connections" in summary
    assert "    e.g. x/b => x/a : All Connections -> No Connections" in summary
    assert "egress" not in summary
    assert "4 changes (0 added, 4 removed, 0 changed)" in summary
    back = invoke("diff", str(tmp_path / "new.yaml"), str(tmp_path / "old.yaml"))
    assert "No longer isolated for ingress (2): x/a, x/b" in back.stdout


def test_workloads_are_named_as_connlist_names_them(tmp_path: Path):
    deployment = NS + textwrap.dedent(
        """\
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: x}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: c, image: i}]}
        """
    )
    (tmp_path / "old.yaml").write_text(deployment + _pod("a", "10.0.0.1"))
    (tmp_path / "new.yaml").write_text(deployment + _pod("a", "10.0.0.1") + DENY_ALL_INGRESS)
    result = invoke("diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "-o", "json")
    pairs = {(c["src"], c["dst"]) for c in json.loads(result.stdout)["changes"]}
    assert pairs == {
        ("x/a", "x/web[Deployment]"),
        ("x/web[Deployment]", "x/a"),
        (EVERYWHERE, "x/a"),
        (EVERYWHERE, "x/web[Deployment]"),
    }


def test_outside_ranges_are_cut_by_both_inputs(tmp_path: Path):
    egress = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-egress, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]
"""
    base = NS + _pod("a", "10.0.0.1")
    (tmp_path / "old.yaml").write_text(base)
    (tmp_path / "new.yaml").write_text(base + egress)
    result = invoke("diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "-o", "json")
    changes = json.loads(result.stdout)["changes"]
    # the old side alone has one range; the new side's ipBlock cuts it into three pieces
    assert [(c["src"], c["dst"], c["change"]) for c in changes] == [
        ("x/a", "0.0.0.0-9.255.255.255", "removed"),
        ("x/a", "11.0.0.0-255.255.255.255", "removed"),
    ]


# ---------------------------------------------------------------------- --base REV


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is needed for --base (and by this test)")
    root = tmp_path / "repo"
    (root / "deploy" / ".hidden").mkdir(parents=True)
    (root / "deploy" / "app.yaml").write_text(OLD)
    (root / "deploy" / ".hidden" / "ignored.yaml").write_text(NS + _pod("z", "10.9.9.9"))
    (root / "deploy" / "notes.txt").write_text("not a manifest")
    (root / "README").write_text("x")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    return root


def test_base_compares_a_revision_with_the_working_tree(repo: Path):
    (repo / "deploy" / "app.yaml").write_text(NEW)
    result = _run("--base", "HEAD", "deploy", "-o", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changes"] == EXPECTED
    # from a subdirectory, paths are relative to it; a file path works as well
    sub = _run("--base", "HEAD", "app.yaml", "-o", "json", "--fail-on-removed", cwd=repo / "deploy")
    assert sub.returncode == 1, sub.stderr
    assert json.loads(sub.stdout)["changes"] == EXPECTED
    # no PATH: the current directory
    whole = _run("--base", "HEAD", "-o", "json", cwd=repo / "deploy")
    assert json.loads(whole.stdout)["changes"] == EXPECTED


def test_base_with_a_file_new_since_the_revision(repo: Path):
    (repo / "deploy" / "extra.yaml").write_text(DENY_ALL_INGRESS)
    result = _run("--base", "HEAD", "deploy/extra.yaml", "deploy/app.yaml", "-o", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "deploy/extra.yaml does not exist at HEAD: counted as empty" in result.stderr
    changes = json.loads(result.stdout)["changes"]
    # x/b admitted only x/a already: the deny-all cuts only what x/a admitted
    assert [(c["src"], c["dst"], c["change"]) for c in changes] == [
        (EVERYWHERE, "x/a", "removed"),
        ("x/b", "x/a", "removed"),
    ]


def test_base_errors_are_located_at_the_revision(repo: Path):
    bad = OLD.replace("{port: 80, endPort: 81}", "{port: 80, endPort: 70}")
    (repo / "deploy" / "app.yaml").write_text(bad)
    _git(repo, "commit", "-q", "-am", "bad")
    (repo / "deploy" / "app.yaml").write_text(OLD)
    result = _run("--base", "HEAD", "deploy", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "HEAD:deploy/app.yaml:" in result.stderr
    assert "endPort" in result.stderr
    assert "Traceback" not in result.stderr


def test_base_usage_errors(repo: Path, tmp_path: Path):
    unknown = _run("--base", "no-such-rev", "deploy", cwd=repo)
    assert unknown.returncode == 2
    assert "unknown git revision 'no-such-rev'" in unknown.stderr
    outside = _run("--base", "HEAD", str(tmp_path), cwd=repo)
    assert outside.returncode == 2
    assert "outside the git repository" in outside.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    not_repo = _run("--base", "HEAD", ".", cwd=plain)
    assert not_repo.returncode == 2
    assert "--base HEAD:" in not_repo.stderr
    for proc in (unknown, outside, not_repo):
        assert "Traceback" not in proc.stderr + proc.stdout


# ---------------------------------------------------------------------- bad usage and input


def test_bad_usage_exits_2(pair):
    one = _run(pair[0])
    assert one.returncode == 2
    assert "diff takes OLD and NEW (got 1 path)" in one.stderr
    fmt = _run(*pair, "-o", "dot")
    assert fmt.returncode == 2
    assert "dot output format is not supported for diff" in fmt.stderr
    both_stdin = _run("-", "-")
    assert both_stdin.returncode == 2
    for proc in (one, fmt, both_stdin):
        assert "Traceback" not in proc.stderr + proc.stdout


def test_unreadable_input_exits_2_with_a_location(pair, tmp_path: Path):
    missing = _run(pair[0], str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert f"{tmp_path / 'nope.yaml'}: does not exist" in missing.stderr
    assert "no readable input for NEW" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n")
    bad = _run(str(broken), pair[1])
    assert bad.returncode == 2
    assert f"{broken}:" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def test_stdin_on_one_side(pair):
    proc = subprocess.run(
        [sys.executable, "-m", "netpolicy", "diff", "-", pair[1], "-o", "json"],
        input=OLD,
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["changes"] == EXPECTED
