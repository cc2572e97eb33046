"""The lab's plan and report without root: expected verdicts, ports probed, the table, the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from netpolicy.api import load_demo
from netpolicy.cli import app
from netpolicy.cli.lab import render_report
from netpolicy.lab import LabError
from netpolicy.lab.probe import ProbeOutcomes
from netpolicy.lab.running import RunningLab, RunningPod, find_lab, normalize_prefix
from netpolicy.lab.servers import DETAILS
from netpolicy.lab.verify import LabReport, cross_check_size, plan_lab
from netpolicy.load import load_manifests
from netpolicy.model import Cluster, ContainerPort, NetworkPolicy, Pod, PolicyPort, Rule
from netpolicy.semantics import Evaluator


def test_demo_plan() -> None:
    plan = plan_lab(load_demo().cluster)
    assert len(plan.pods) == 7 and len(plan.assigned) == 7
    assert len(plan.probes) == 168
    assert plan.undeclared == {"TCP": 9091, "UDP": 9091, "SCTP": 9091}
    # a small lab: the one-pair evaluator decides every probe again, and agrees
    assert plan.cross_checked == 168
    assert plan.engine_mismatches == ()
    allowed = {(p.src, p.dst, p.port) for p in plan.probes if p.expected}
    assert ("shop/frontend[Deployment]", "shop/backend[Deployment]", 8080) in allowed
    assert ("default/debug", "shop/backend[Deployment]", 8080) not in allowed
    assert "table inet netpolicy" in plan.ruleset
    assert "tcp reset" not in plan.ruleset  # the lab tells filtered from refused
    names = {p.name for p in plan.pods}
    assert "payments/db[StatefulSet]" in names
    # no pod's probe socket may sit on a port other pods probe there
    spec = plan.lab_spec("np-x-")
    assert {(9091, "TCP"), (9091, "UDP"), (9091, "SCTP")} <= spec.probed_ports


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
    """The demo's plan with packets that did what the analysis said (all but one, if asked)."""
    plan = plan_lab(load_demo().cluster)
    expected = plan.probes.expected
    code = np.where(expected, DETAILS.index("connected"), DETAILS.index("unreachable"))
    code = code.astype(np.uint8)
    if disagree:  # the first probe (denied by the analysis) came back "refused": it passed
        assert not expected[0]
        code[0] = DETAILS.index("refused")
    packets = ProbeOutcomes(code, np.full(len(code), 0.001, dtype=np.float32))
    return LabReport(plan, packets, "raw sockets", "np-x-", {"build": 0.1, "probe": 0.2})


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


# ---- expected verdicts: the engine, cross-checked by the one-pair evaluator ----------------

REPO = Path(__file__).resolve().parents[2]
SPEC_CASES = sorted(p for p in (REPO / "tests" / "cases").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.name for c in SPEC_CASES])
def test_engine_verdicts_equal_the_evaluator_on_every_probe(case: Path) -> None:
    """Expanded from class pairs, the expected verdicts are exactly what `decide` says."""
    cluster = load_manifests([case / "manifests.yaml"]).cluster
    plan = plan_lab(cluster, ports="policy")
    assert plan.engine_mismatches == ()
    evaluator = Evaluator(plan.cluster)
    infos = {p.name: evaluator.pod_info(p.pod) for p in plan.pods}
    wrong = [
        p
        for p in plan.probes
        if evaluator.decide(infos[p.src], infos[p.dst], p.protocol, p.port).allowed != p.expected
    ]
    assert wrong == []


def test_cross_check_sample_is_one_percent_at_least_300() -> None:
    assert cross_check_size(168) == 168
    assert cross_check_size(10_000) == 300
    assert cross_check_size(5_083_911) == 50_840
    assert cross_check_size(0) == 0


def test_cross_check_is_deterministic_and_covers_a_sample() -> None:
    pods = tuple(
        Pod("x", f"p{i}", ip=f"10.0.0.{i + 1}", ports=(ContainerPort(80, "TCP"),))
        for i in range(40)
    )
    policy = NetworkPolicy("x", "deny", policy_types=("Ingress",))
    cluster = Cluster((), pods, (), (policy,))
    first, second = plan_lab(cluster), plan_lab(cluster)
    assert len(first.probes) == 40 * 39 * 4
    assert first.cross_checked == second.cross_checked == 300
    assert not first.probes.expected.any()  # every pod isolated for ingress, no rule


def test_an_engine_bug_fails_verify_apart_from_the_packets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An engine that forgets every allowed pair disagrees with the evaluator: reported."""
    from netpolicy.lab import verify as lab_verify

    real = lab_verify.compute_connectivity

    def forgetful(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        result.class_pairs.clear()
        return result

    monkeypatch.setattr(lab_verify, "compute_connectivity", forgetful)
    plan = plan_lab(load_demo().cluster)
    assert plan.cross_checked == 168  # the demo is small: every probe cross-checked
    assert len(plan.engine_mismatches) == 42  # the probes the evaluator allows
    assert all(m.evaluator and not m.engine for m in plan.engine_mismatches)
    # the packets agree with the (wrong) expectations, yet the report fails
    code = np.where(plan.probes.expected, 0, DETAILS.index("prohibited")).astype(np.uint8)
    packets = ProbeOutcomes(code, np.zeros(len(code), dtype=np.float32))
    report = LabReport(plan, packets, "raw sockets", "np-x-", {})
    assert report.agreed == 168 and not report.ok
    text = _rendered(report)
    assert "a bug in netpolicy's analysis" in text
    assert "42 disagree: a bug" in text
    assert "but the engine and the evaluator disagree on 42" in text
    doc = json.loads("".join(report.json_chunks()))
    assert doc["ok"] is False and len(doc["engineMismatches"]) == 42
    assert doc["crossChecked"] == 168


def test_json_chunks_are_the_report_document() -> None:
    for disagree in (False, True):
        report = _report(disagree)
        chunks = list(report.json_chunks({"input": "the demo"}))
        assert max(len(c) for c in chunks) < 1 << 16
        doc = json.loads("".join(chunks))
        assert doc == {**report.to_dict(), "input": "the demo"}
        assert doc["crossChecked"] == 168


def test_text_report_says_how_many_were_cross_checked() -> None:
    text = _rendered(_report(False))
    assert "Cross-checked 168 of the 168 expected verdicts (100%)" in text
    assert "confirms the engine's verdict on every one" in text


# ---- writing a lot: chunks, a closed pipe, a full disk -------------------------------------


def test_output_is_written_in_chunks() -> None:
    from netpolicy.cli.lab import CHUNK, _chunked

    pieces = ["a" * 10, "b" * (3 * CHUNK + 5), *(["c" * 100] * 2000)]
    chunks = list(_chunked(pieces))
    assert "".join(chunks) == "".join(pieces)
    assert max(len(c) for c in chunks) <= CHUNK + 100


def test_a_closed_pipe_ends_the_output_quietly() -> None:
    from netpolicy.cli.lab import write_output

    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as stream, pytest.raises(typer.Exit) as ended:
        write_output(iter(["x" * 100_000]), closed_pipe_exit=1, file=stream)
    assert ended.value.exit_code == 1


def test_a_full_disk_is_an_error_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    from netpolicy.cli.lab import write_output

    with open("/dev/full", "w") as stream, pytest.raises(typer.Exit) as ended:
        write_output(iter(["x" * 100_000]), file=stream)
    assert ended.value.exit_code == 2
    assert "No space left on device" in capsys.readouterr().err


def test_cli_lab_list_to_a_full_disk_fails_loudly(tmp_path: Path) -> None:
    env = {**os.environ, "NETPOLICY_LAB_STATE_DIR": str(tmp_path)}
    script = (
        "from netpolicy.lab.running import RunningLab, RunningPod\n"
        "RunningLab('demo-', 1, '0', 0.0, 'test', 'demo-router', []).save()\n"
    )
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "netpolicy", "lab", "list"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            check=False,
        )
    assert done.returncode == 2
    assert "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
