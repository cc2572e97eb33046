"""The lab's plan and report without root: expected verdicts, ports probed, the table, the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from netpolicy.api import load_demo
from netpolicy.cli import app
from netpolicy.cli.lab import render_report
from netpolicy.lab import LabError
from netpolicy.lab.running import RunningLab, RunningPod, find_lab, normalize_prefix
from netpolicy.lab.verify import LabReport, ProbeOutcome, plan_lab
from netpolicy.model import Cluster, ContainerPort, NetworkPolicy, Pod, PolicyPort, Rule


def test_demo_plan() -> None:
    plan = plan_lab(load_demo().cluster)
    assert len(plan.pods) == 7 and len(plan.assigned) == 7
    assert len(plan.probes) == 168
    assert plan.undeclared == {"TCP": 9091, "UDP": 9091, "SCTP": 9091}
    # the one evaluator and the all-pairs engine agree on every probe
    assert all(p.expected == p.engine for p in plan.probes)
    allowed = {(p.src, p.dst, p.port) for p in plan.probes if p.expected}
    assert ("shop/frontend[Deployment]", "shop/backend[Deployment]", 8080) in allowed
    assert ("default/debug", "shop/backend[Deployment]", 8080) not in allowed
    assert "table inet netpolicy" in plan.ruleset
    assert "tcp reset" not in plan.ruleset  # the lab tells filtered from refused
    names = {p.name for p in plan.pods}
    assert "payments/db[StatefulSet]" in names


def test_undeclared_port_avoids_declared_and_named_ports() -> None:
    pods = (
        Pod("x", "a", ip="10.0.0.1", ports=(ContainerPort(65535, "TCP"),)),
        Pod("x", "b", ip="10.0.0.2", ports=(ContainerPort(80, "UDP"),)),
    )
    policy = NetworkPolicy("x", "p", ingress=(Rule((), (PolicyPort("TCP", 40000, 40010),)),))
    plan = plan_lab(Cluster((), pods, (), (policy,)))
    assert plan.undeclared["TCP"] == 40011  # above everything is 65536: the first free gap
    assert plan.undeclared["UDP"] == 40000  # free for UDP, though named for TCP
    assert all(p.port != 65535 or p.dst == "x/a" for p in plan.probes)


def test_host_network_pods_are_left_out_and_said_so() -> None:
    pods = (
        Pod("x", "a", ip="10.0.0.1"),
        Pod("x", "b", ip="10.0.0.2"),
        Pod("x", "node-agent", ip="192.168.0.10", host_network=True),
    )
    plan = plan_lab(Cluster((), pods))
    assert plan.excluded == ("x/node-agent",)
    assert {p.name for p in plan.pods} == {"x/a", "x/b"}


def test_pods_sharing_an_ip_cannot_be_a_lab() -> None:
    pods = (Pod("x", "a", ip="10.0.0.1"), Pod("y", "b", ip="10.0.0.1"))
    with pytest.raises(LabError, match=r"share the IP 10\.0\.0\.1"):
        plan_lab(Cluster((), pods))


def test_pairs_across_address_families_are_not_probed() -> None:
    pods = (Pod("x", "a", ip="10.0.0.1"), Pod("x", "b", ip="fd00::2"), Pod("x", "c", ip="fd00::3"))
    plan = plan_lab(Cluster((), pods))
    assert plan.cross_family_pairs == 4
    assert {(p.src, p.dst) for p in plan.probes} == {("x/b", "x/c"), ("x/c", "x/b")}


def test_policy_ports_probe_range_edges() -> None:
    pods = (Pod("x", "a", ip="10.0.0.1"), Pod("x", "b", ip="10.0.0.2"))
    policy = NetworkPolicy("x", "p", ingress=(Rule((), (PolicyPort("UDP", 100, 200),)),))
    plan = plan_lab(Cluster((), pods, (), (policy,)), ports="policy")
    udp = sorted({p.port for p in plan.probes if p.protocol == "UDP"})
    assert udp == [99, 100, 200, 201]
    verdicts = {p.port: p.expected for p in plan.probes if p.protocol == "UDP"}
    assert verdicts == {99: False, 100: True, 200: True, 201: False}


def _report(disagree: bool) -> LabReport:
    plan = plan_lab(load_demo().cluster)
    outcomes = [
        ProbeOutcome(
            p.src,
            p.dst,
            p.protocol,
            p.port,
            p.served,
            p.expected,
            p.expected,
            "connected" if p.expected else "unreachable",
            0.001,
            p.reason,
        )
        for p in plan.probes
    ]
    if disagree:
        o = outcomes[0]
        outcomes[0] = ProbeOutcome(
            o.src,
            o.dst,
            o.protocol,
            o.port,
            o.served,
            o.expected,
            not o.expected,
            "refused",
            0.002,
            o.reason,
        )
    return LabReport(
        plan.pods,
        plan.excluded,
        plan.assigned,
        plan.undeclared,
        outcomes,
        [],
        "raw sockets",
        "np-x-",
        {"build": 0.1, "probe": 0.2},
    )


def _rendered(report: LabReport) -> str:
    buffer = io.StringIO()
    render_report(Console(file=buffer, width=200), report, "the demo", 7)
    return buffer.getvalue()


def test_comparison_table_all_agree() -> None:
    text = _rendered(_report(False))
    assert "All 168 probes agree" in text
    assert "!" not in text.split("Destinations")[0].split("they disagree")[1]
    assert "SCTP probed with raw sockets." in text
    assert "9091/TCP*" in text


def test_comparison_table_shows_a_disagreement() -> None:
    report = _report(True)
    assert not report.ok and report.agreed == 167
    text = _rendered(report)
    assert "Disagreements (1)" in text
    assert "167/168 probes agree; 1 disagree." in text
    first_row = next(line for line in text.splitlines() if line.startswith("1 "))
    assert "!" in first_row
    doc = report.to_dict()
    assert doc["ok"] is False and len(doc["disagreements"]) == 1
    json.dumps(doc)


def test_cli_verify_without_root_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("netpolicy.lab.preflight.os.geteuid", lambda: 1000)
    result = CliRunner().invoke(app, ["lab", "verify"])
    assert result.exit_code == 2
    assert "must run as root" in result.output


def test_cli_verify_without_nft_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "netpolicy.lab.preflight.shutil.which", lambda name: None if name == "nft" else "/x"
    )
    result = CliRunner().invoke(app, ["lab", "verify"])
    assert result.exit_code == 2
    assert "apt-get install -y iproute2 nftables" in result.output


def test_cli_verify_rejects_bad_options() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["lab", "verify", "-o", "yaml"]).exit_code == 2
    assert runner.invoke(app, ["lab", "verify", "--timeout", "0"]).exit_code == 2
    assert runner.invoke(app, ["lab", "verify", "--ports", "some"]).exit_code == 2


def _state(prefix: str) -> RunningLab:
    pods = [
        RunningPod("x/a", f"{prefix}pod0", "10.0.0.1", ["80/TCP"]),
        RunningPod("y/a", f"{prefix}pod1", "10.0.0.2", []),
        RunningPod("x/web[Deployment]", f"{prefix}pod2", "10.0.0.3", []),
    ]
    return RunningLab(prefix, 1, "0", 0.0, "test", f"{prefix}router", pods)


def test_running_lab_state_round_trip_and_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETPOLICY_LAB_STATE_DIR", str(tmp_path))
    with pytest.raises(LabError, match="no lab is running"):
        find_lab(None)
    state = _state("demo-")
    state.save()
    assert find_lab(None) == state
    assert find_lab("demo") == state
    with pytest.raises(LabError, match="was started by"):
        find_lab("np-123456-")
    assert state.pod("x/web").name == "x/web[Deployment]"
    assert state.pod("web").name == "x/web[Deployment]"
    with pytest.raises(LabError, match="several pods"):
        state.pod("a")
    _state("other-").save()
    with pytest.raises(LabError, match="several labs"):
        find_lab(None)
    assert not state.is_alive()  # pid 1 did not start at tick "0"


def test_normalize_prefix() -> None:
    assert normalize_prefix("demo") == "demo-"
    assert normalize_prefix("np-abc-") == "np-abc-"
