"""`netpolicy lab verify`: the analysis against real packets (root, ip, nft; skipped otherwise).

Every test here builds real network namespaces, loads the rendered ruleset into the lab
router and probes every ordered pair of pods; the lab must agree with the analysis on
every probe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from netpolicy.api import load_demo
from netpolicy.enforce import RulesetOptions, render_ruleset
from netpolicy.lab.verify import LabReport, cross_check_size, plan_lab, run_plan, verify
from netpolicy.load import load_manifests, load_text
from netpolicy.model import (
    Cluster,
    ContainerPort,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    PolicyPort,
    Rule,
    labels_of,
)

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
E2E_CASES = sorted((REPO / "tests" / "e2e_upstream" / "cases").iterdir())
SPEC_CASES = sorted(p for p in (REPO / "tests" / "cases").iterdir() if p.is_dir())


def summary(report: LabReport) -> str:
    lines = [f"{len(report.disagreements)} disagreements, {len(report.engine_mismatches)} engine"]
    lines += [
        f"  {o.src} -> {o.dst} {o.port}/{o.protocol}: expected {o.expected}, "
        f"{o.detail} ({o.reason})"
        for o in report.disagreements[:20]
    ]
    lines += [f"  engine: {m}" for m in report.engine_mismatches[:20]]
    return "\n".join(lines)


def test_demo_verifies(lab_prefix: str) -> None:
    report = verify(load_demo().cluster, prefix=lab_prefix)
    assert report.ok, summary(report)
    assert len(report.outcomes) == 168  # 7 pods: 42 ordered pairs x (declared + 3 others)
    assert report.agreed == 168
    assert {o.detail for o in report.outcomes if o.observed} == {"connected", "refused"}
    assert {o.detail for o in report.outcomes if not o.observed} <= {"unreachable", "prohibited"}
    assert set(report.timings) == {"analysis", "build", "apply", "probe", "teardown"}
    assert "SCTP" in report.sctp_probe_method or "sockets" in report.sctp_probe_method
    assert report.prefix == lab_prefix


def test_progress_reports_every_phase(lab_prefix: str) -> None:
    seen: dict[str, tuple[int, int]] = {}

    def progress(phase: str, done: int, total: int) -> None:
        seen[phase] = (done, total)

    verify(load_demo().cluster, prefix=lab_prefix, progress=progress)
    for phase in ("analysis", "namespaces", "links", "pods", "apply", "probes", "teardown"):
        done, total = seen[phase]
        assert done == total, phase


def test_the_comparison_is_not_vacuous(lab_prefix: str) -> None:
    """With TCP rejected by a reset from the router, "filtered" looks like "refused": caught."""
    plan = plan_lab(load_demo().cluster)
    tcp_reset = render_ruleset(plan.cluster, RulesetOptions(tcp_reset=True))
    from dataclasses import replace

    report = run_plan(replace(plan, ruleset=tcp_reset), prefix=lab_prefix)
    assert not report.ok
    wrong = report.disagreements
    assert wrong and all(o.protocol == "TCP" and not o.expected for o in wrong)
    assert {o.detail for o in wrong} == {"refused"}


def _e2e_probes(case: Path) -> list[dict]:
    return json.loads((case / "probes.json").read_text())["probes"]


@pytest.mark.parametrize("case", E2E_CASES, ids=[c.name for c in E2E_CASES])
def test_upstream_e2e_case_verifies(case: Path, lab_prefix: str) -> None:
    """All 58 stages of the upstream e2e suite (9 pods, 648 probes each, about 0.2 s each)."""
    cluster = load_manifests([case / "manifests.yaml"]).cluster
    report = verify(cluster, prefix=lab_prefix)
    assert report.ok, summary(report)
    assert len(report.outcomes) == 72 * 9  # 6 served ports + 3 others per pair
    observed = {(o.src, o.dst, o.port, o.protocol): o.observed for o in report.outcomes}
    upstream = _e2e_probes(case)
    wrong = [
        p
        for p in upstream
        if observed[(p["from"], p["to"], p["port"], p["protocol"])] != p["allowed"]
    ]
    assert wrong == [], f"packets differ from upstream's expectations: {wrong[:5]}"


PEER_SCENARIOS = {
    # named ports resolved on the destination, ingress and egress
    "netpol_named_port_test": "declared",
    "netpol_named_port_test_2": "declared",
    "test_with_named_ports": "declared",
    "test_with_named_ports_changed_netpol": "declared",
    # endPort ranges: probed at their edges too
    "with_end_port_example": "policy",
    "with_end_port_example_new": "policy",
    # ipBlocks with except (host-network pods are left out of the lab)
    "ipblockstest": "policy",
    "ipblockstest_2": "policy",
    "ipblockstest_3": "policy",
    "ipblockstest_4": "policy",
    "onlineboutique_workloads": "declared",
}


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.name for c in SPEC_CASES])
def test_spec_case_verifies(case: Path, lab_prefix: str) -> None:
    """Every table-driven case of tests/cases (pods with IPs; workloads get lab IPs)."""
    cluster = load_manifests([case / "manifests.yaml"]).cluster
    if sum(1 for p in cluster.pods if not p.host_network) < 2:
        pytest.skip("fewer than two pods: nothing to probe")
    report = verify(cluster, prefix=lab_prefix, ports="policy")
    assert report.ok, summary(report)


@pytest.mark.parametrize("scenario", sorted(PEER_SCENARIOS))
def test_peer_suite_scenario_verifies(scenario: str, peer_suite: Path, lab_prefix: str) -> None:
    folder = peer_suite / "tests" / scenario
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    cluster = load_manifests([folder]).cluster
    report = verify(cluster, prefix=lab_prefix, ports=PEER_SCENARIOS[scenario])  # type: ignore[arg-type]
    assert len(report.pods) >= 2
    assert report.ok, summary(report)


def test_ipv6_and_dual_stack_pods_verify(lab_prefix: str) -> None:
    text = textwrap.dedent(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: default, labels: {app: a}}
        spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
        status: {podIP: "fd00:10::a"}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: default, labels: {app: c}}
        spec:
          containers:
          - name: c
            ports:
            - {containerPort: 80}
            - {containerPort: 53, protocol: UDP}
            - {containerPort: 7, protocol: SCTP}
        status: {podIP: "fd00:20::c"}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: d, namespace: default, labels: {app: d}}
        spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
        status: {podIP: "fd00:10::d"}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: v4, namespace: default, labels: {app: v4}}
        spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
        status: {podIP: 10.3.0.2}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: a-ingress, namespace: default}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - from: [{ipBlock: {cidr: "fd00::/16", except: ["fd00:10::/64"]}}]
            ports: [{port: 80}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: d-egress, namespace: default}
        spec:
          podSelector: {matchLabels: {app: d}}
          policyTypes: [Egress]
          egress:
          - to: [{ipBlock: {cidr: "fd00:20::/64"}}]
            ports: [{port: 53, protocol: UDP}, {port: 7, protocol: SCTP}]
        """
    )
    report = verify(load_text(text).cluster, prefix=lab_prefix, ports="policy")
    assert report.ok, summary(report)
    assert report.cross_family_pairs == 6  # v4 <-> each of the three IPv6 pods
    allowed = {(o.src, o.dst, o.port, o.protocol) for o in report.outcomes if o.observed}
    assert ("default/c", "default/a", 80, "TCP") in allowed
    assert ("default/d", "default/a", 80, "TCP") not in allowed  # except fd00:10::/64
    assert ("default/d", "default/c", 7, "SCTP") in allowed
    assert ("default/d", "default/c", 80, "TCP") not in allowed


def thirty_pods() -> Cluster:
    """30 pods in 3 namespaces, each serving TCP 80 and UDP 53, with 4 policies."""
    namespaces = tuple(Namespace(n, labels_of({"team": n})) for n in ("x", "y", "z"))
    ports = (ContainerPort(80, "TCP", "http"), ContainerPort(53, "UDP", "dns"))
    pods = tuple(
        Pod(ns, f"p{i}", labels_of({"app": f"a{i % 4}"}), ports=ports)
        for i, ns in ((i, "xyz"[i % 3]) for i in range(30))
    )
    everyone = LabelSelector()
    policies = (
        NetworkPolicy("x", "deny-all", everyone, policy_types=("Ingress",)),
        NetworkPolicy(
            "x",
            "from-y-http",
            LabelSelector(labels_of({"app": "a1"})),
            ingress=(
                Rule(
                    (Peer(namespace_selector=LabelSelector(labels_of({"team": "y"}))),),
                    (PolicyPort("TCP", "http"),),
                ),
            ),
        ),
        NetworkPolicy(
            "z",
            "dns-only-out",
            LabelSelector(labels_of({"app": "a2"})),
            egress=(Rule((), (PolicyPort("UDP", 53),)),),
            policy_types=("Egress",),
        ),
        NetworkPolicy(
            "y",
            "same-app",
            LabelSelector(labels_of({"app": "a3"})),
            ingress=(Rule((Peer(pod_selector=LabelSelector(labels_of({"app": "a3"}))),), ()),),
        ),
    )
    return Cluster(namespaces, pods, (), policies)


def test_thirty_by_thirty_pods_two_ports_under_thirty_seconds(
    lab_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    report = verify(thirty_pods(), prefix=lab_prefix)
    took = time.monotonic() - started
    assert report.ok, summary(report)
    served = [o for o in report.outcomes if o.served]
    assert len(served) == 30 * 29 * 2
    assert len(report.outcomes) == 30 * 29 * 5  # and one other port per protocol
    with capsys.disabled():
        phases = " ".join(f"{k}={v:.2f}s" for k, v in report.timings.items())
        print(f"\n30x30 pods x 2 ports ({len(report.outcomes)} probes): {took:.2f} s; {phases}")
    assert took < 30


def test_ctrl_c_while_probing_tears_the_lab_down(lab_prefix: str) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from netpolicy.api import load_demo
        from netpolicy.lab.verify import verify

        def progress(phase, done, total):
            if phase == "probes":
                os.kill(os.getpid(), signal.SIGINT)

        try:
            verify(load_demo().cluster, prefix={lab_prefix!r}, progress=progress)
        except KeyboardInterrupt:
            raise SystemExit(130)
        raise SystemExit(0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 130, done.stderr
    assert not [n for n in os.listdir("/run/netns") if n.startswith(lab_prefix)]


# ---- the command line --------------------------------------------------------------------


def netpolicy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netpolicy", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_cli_verify_demo_prints_the_table_and_exits_0() -> None:
    done = netpolicy("lab", "verify")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Comparison: rows are sources, columns destinations" in out
    assert "shop/frontend[Deployment]" in out
    assert "All 168 probes agree with the analysis." in out
    assert "SCTP probed with" in out
    assert "Time: analysis" in out and "teardown" in out
    assert "Traceback" not in done.stderr


def test_cli_verify_json() -> None:
    done = netpolicy("lab", "verify", "-o", "json", "--timeout", "0.5")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["kind"] == "LabReport" and doc["ok"] is True
    assert doc["probes"] == doc["agreed"] == 168
    assert doc["disagreements"] == []


def test_cli_verify_e2e_case_with_sctp_and_udp() -> None:
    case = REPO / "tests" / "e2e_upstream" / "cases" / "47-sctp-ports"
    done = netpolicy("lab", "verify", str(case / "manifests.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All 648 probes agree" in done.stdout


def test_cli_verify_bad_input_exits_2(tmp_path: Path) -> None:
    done = netpolicy("lab", "verify", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_cli_up_exec_down(lab_prefix: str, tmp_path: Path) -> None:
    env = {"NETPOLICY_LAB_STATE_DIR": str(tmp_path)}
    up = netpolicy("lab", "up", "--name", lab_prefix, env=env)
    try:
        assert up.returncode == 0, up.stderr
        assert f"Lab {lab_prefix} is up" in up.stdout
        assert "shop/backend[Deployment]" in up.stdout and "10.244.0.3" in up.stdout
        assert (tmp_path / f"{lab_prefix}.json").exists()

        again = netpolicy("lab", "up", "--name", lab_prefix, env=env)
        assert again.returncode == 2 and "already" in again.stderr

        listed = netpolicy("lab", "list", env=env)
        assert lab_prefix in listed.stdout and " up\n" in listed.stdout

        # frontend may reach backend:8080; debug may not (the lab's servers keep running)
        connect = "import socket; socket.create_connection(('10.244.0.3', 8080), timeout=1)"
        ok = netpolicy(
            "lab",
            "exec",
            "frontend",
            "--name",
            lab_prefix,
            "--",
            sys.executable,
            "-c",
            connect,
            env=env,
        )
        assert ok.returncode == 0, ok.stderr
        denied = netpolicy(
            "lab",
            "exec",
            "default/debug",
            "--name",
            lab_prefix,
            "--",
            sys.executable,
            "-c",
            connect,
            env=env,
        )
        assert denied.returncode != 0
        assert "No route to host" in denied.stderr  # ICMP admin-prohibited from the router

        unknown = netpolicy("lab", "exec", "nope", "--name", lab_prefix, "--", "true", env=env)
        assert unknown.returncode == 2 and "no pod 'nope'" in unknown.stderr
        refused = netpolicy("lab", "down", "--name", "np-not-ours-", env=env)
        assert refused.returncode == 2 and "was started by `netpolicy lab up`" in refused.stderr
    finally:
        down = netpolicy("lab", "down", "--name", lab_prefix, env=env)
    assert down.returncode == 0, down.stderr
    assert f"lab {lab_prefix} is down" in down.stderr
    assert not list(tmp_path.iterdir())


def test_cli_down_cleans_up_after_a_killed_daemon(lab_prefix: str, tmp_path: Path) -> None:
    env = {"NETPOLICY_LAB_STATE_DIR": str(tmp_path)}
    up = netpolicy("lab", "up", "--name", lab_prefix, env=env)
    assert up.returncode == 0, up.stderr
    state = json.loads((tmp_path / f"{lab_prefix}.json").read_text())
    os.kill(state["pid"], 9)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{state['pid']}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    down = netpolicy("lab", "down", env=env)  # the only lab: no --name needed
    assert down.returncode == 0, down.stderr
    assert "holder was gone" in down.stderr or "is down" in down.stderr
    assert not [n for n in os.listdir("/run/netns") if n.startswith(lab_prefix)]


def _lab_namespaces() -> set[str]:
    return (
        {n for n in os.listdir("/run/netns") if n.startswith("np-")}
        if os.path.isdir("/run/netns")
        else set()
    )


def test_cli_verify_to_a_full_disk_says_so_and_exits_2() -> None:
    before = _lab_namespaces()
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "netpolicy", "lab", "verify"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2
    assert "cannot write" in done.stderr and "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert _lab_namespaces() <= before  # the lab was torn down before the writing


def test_cli_verify_json_into_head_ends_quietly() -> None:
    """The reader stops after one line of a 250 kB report: no traceback, the verdict's code."""
    case = REPO / "tests" / "e2e_upstream" / "cases" / "47-sctp-ports" / "manifests.yaml"
    command = (
        f'set -o pipefail; "{sys.executable}" -m netpolicy lab verify -o json "{case}" | head -1'
    )
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('{"apiVersion": "netpolicy/v1", "kind": "LabReport"')
    assert done.stdout.count("\n") == 1
    assert done.stderr == ""


# ---- at scale (slow) ----------------------------------------------------------------------


def _lab_scale_script() -> object:
    import importlib.util

    name = "netpolicy_bench_lab_scale"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "lab_scale.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.slow
def test_hundred_generated_pods_verify_end_to_end(
    lab_prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks/lab_scale.py's cluster at 100 pods: every pair, every declared port plus
    one undeclared port per protocol, on real packets; then the command into `head -1`."""
    path = tmp_path / "cluster.json"
    _lab_scale_script().write_cluster(100, 1, path)  # type: ignore[attr-defined]
    cluster = load_manifests([path]).cluster
    started = time.monotonic()
    report = verify(cluster, prefix=lab_prefix)
    took = time.monotonic() - started
    assert report.ok, summary(report)
    ports = sum(len(p.served) + 3 for p in report.pods)  # each destination's probe ports
    assert len(report.outcomes) == 99 * ports
    assert report.cross_checked == cross_check_size(len(report.outcomes)) > 300  # 1%
    with capsys.disabled():
        phases = " ".join(f"{k}={v:.2f}s" for k, v in report.timings.items())
        print(f"\n100 pods ({len(report.outcomes)} probes): {took:.1f} s; {phases}")

    command = f'set -o pipefail; "{sys.executable}" -m netpolicy lab verify "{path}" | head -1'
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Lab verify: ") and done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
