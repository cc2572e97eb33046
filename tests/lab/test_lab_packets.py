"""Real packets in network namespaces: needs root, `ip` and `nft` (skipped otherwise)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from netpolicy.lab import (
    Lab,
    LabPod,
    LabSpec,
    Probe,
    apply_ruleset,
    build_lab,
    clear_ruleset,
    lab_down,
    probe_all,
    ruleset_counters,
)
from netpolicy.lab._netns import run_in_netns, write_sysctls
from netpolicy.lab.servers import WorkerSetup, _Pod
from netpolicy.lab.topology import LabProtocol

pytestmark = pytest.mark.lab


def netns_names() -> set[str]:
    """What `ip netns list` shows."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


MakeLab = Callable[[tuple[LabPod, ...]], Lab]
SERVED: tuple[tuple[int, LabProtocol], ...] = ((80, "TCP"), (443, "TCP"), (53, "UDP"), (7, "SCTP"))
CLOSED: tuple[tuple[int, LabProtocol], ...] = ((81, "TCP"), (54, "UDP"), (8, "SCTP"))


def four_pods(
    ips: tuple[str, ...] = ("10.7.0.1", "10.7.0.2", "10.7.0.3", "10.7.0.4"),
) -> tuple[LabPod, ...]:
    return tuple(LabPod(key, ip, SERVED) for key, ip in zip("abcd", ips, strict=True))


def all_probes(pods: tuple[LabPod, ...], ports: tuple[tuple[int, LabProtocol], ...]) -> list[Probe]:
    return [
        Probe(src.key, dst.key, dst.ip, port, protocol)
        for src in pods
        for dst in pods
        for port, protocol in ports
    ]


def test_without_a_ruleset_every_served_port_connects(make_lab: MakeLab) -> None:
    pods = four_pods()
    lab = make_lab(pods)
    results = probe_all(lab, all_probes(pods, SERVED + CLOSED))
    wrong = [r for r in results if r.connected != ((r.probe.port, r.probe.protocol) in SERVED)]
    assert wrong == []
    assert {r.detail for r in results if r.connected} == {"connected"}
    # A closed port answers at once: RST (TCP), ICMP port unreachable (UDP), ABORT (SCTP).
    assert {r.detail for r in results if not r.connected} == {"refused"}
    assert max(r.elapsed for r in results) < 0.5


def test_ruleset_decides_exactly_which_probes_pass(make_lab: MakeLab, lab_prefix: str) -> None:
    pods = four_pods()
    a, b, c, d = (pod.ip for pod in pods)
    lab = make_lab(pods)
    apply_ruleset(
        lab,
        textwrap.dedent(f"""
        table inet {lab_prefix}filter {{
          chain forward {{
            type filter hook forward priority 0; policy accept;
            ct state established,related accept
            ip saddr {a} ip daddr {b} tcp dport 80 counter reject with tcp reset
            ip saddr {c} ip daddr {b} tcp dport 80 counter drop
            ip daddr {c} udp dport 53 counter reject with icmpx type port-unreachable
            ip saddr {d} ip daddr {a} udp dport 53 counter drop
            ip daddr {d} sctp dport 7 counter drop
            ip saddr {a} ip daddr {c} sctp dport 7 counter reject with icmpx type admin-prohibited
          }}
        }}
        """),
    )
    denied = {
        ("a", "b", 80, "TCP"): "refused",
        ("c", "b", 80, "TCP"): "timeout",
        ("a", "c", 53, "UDP"): "refused",
        ("b", "c", 53, "UDP"): "refused",
        ("d", "c", 53, "UDP"): "refused",
        ("d", "a", 53, "UDP"): "timeout",
        ("a", "d", 7, "SCTP"): "timeout",
        ("b", "d", 7, "SCTP"): "timeout",
        ("c", "d", 7, "SCTP"): "timeout",
        ("a", "c", 7, "SCTP"): "prohibited",
    }
    results = probe_all(lab, all_probes(pods, SERVED), timeout=0.5)
    got = {
        (r.probe.src_key, r.probe.dst_key, r.probe.port, r.probe.protocol): r.detail
        for r in results
        if not r.connected
    }
    assert got == denied
    # Traffic inside a pod never crosses the router: (d, d, 7, SCTP) connects.
    counters = ruleset_counters(lab)
    rules = [item["rule"] for item in counters["nftables"] if "rule" in item]
    packets = [e["counter"]["packets"] for r in rules for e in r["expr"] if "counter" in e]
    assert len(packets) == 6
    assert all(n >= 1 for n in packets)

    clear_ruleset(lab)
    assert all(r.connected for r in probe_all(lab, all_probes(pods, SERVED)))


def test_ipv6_pods(make_lab: MakeLab, lab_prefix: str) -> None:
    pods = four_pods(("fd00:7::1", "fd00:7::2", "10.7.0.3", "fd00:7::4"))
    lab = make_lab(pods)
    v6 = tuple(p for p in pods if ":" in p.ip)
    results = probe_all(lab, all_probes(v6, SERVED + CLOSED))
    assert [r for r in results if r.connected != ((r.probe.port, r.probe.protocol) in SERVED)] == []
    apply_ruleset(
        lab,
        f"table inet {lab_prefix}filter {{ chain forward {{ type filter hook forward priority 0;"
        " ct state established,related accept;"
        " ip6 daddr fd00:7::2 tcp dport 443 reject with tcp reset;"
        " ip6 daddr fd00:7::4 sctp dport 7 reject with icmpx type admin-prohibited; }; }",
    )
    results = probe_all(lab, all_probes(v6, SERVED), timeout=0.5)
    got = {
        (r.probe.src_key, r.probe.dst_key, r.probe.port, r.detail)
        for r in results
        if not r.connected
    }
    assert got == {
        ("a", "b", 443, "refused"),
        ("d", "b", 443, "refused"),
        ("a", "d", 7, "prohibited"),
        ("b", "d", 7, "prohibited"),
    }


def test_teardown_removes_exactly_its_namespaces(lab_prefix: str) -> None:
    pods = four_pods()
    bystander = f"{lab_prefix}bystander"  # same prefix, not the lab's: must survive teardown
    subprocess.run(["ip", "netns", "add", bystander], check=True)
    try:
        with build_lab(LabSpec(pods, prefix=lab_prefix)) as lab:
            mine = set(lab.namespaces)
            assert len(mine) == 5
            assert mine <= netns_names()
            shown = lab.exec(
                "a", ["ip", "-o", "-4", "addr", "show", "dev", "eth0"], capture_output=True
            )
            assert "10.7.0.1/32" in shown.stdout
            pids = [w.pid for w in lab.workers.values()]
        assert not mine & netns_names()
        assert bystander in netns_names()
        lab.teardown()  # idempotent
        for pid in pids:  # every worker reaped
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
    finally:
        subprocess.run(["ip", "netns", "del", bystander], check=False)


def test_lab_down_removes_leftovers(lab_prefix: str) -> None:
    for suffix in ("router", "pod0"):
        subprocess.run(["ip", "netns", "add", lab_prefix + suffix], check=True)
    assert lab_down(lab_prefix) == [lab_prefix + "pod0", lab_prefix + "router"]
    assert not {n for n in netns_names() if n.startswith(lab_prefix)}


def test_ctrl_c_tears_the_lab_down(lab_prefix: str, tmp_path: Path) -> None:
    script = tmp_path / "hold.py"
    script.write_text(
        textwrap.dedent(f"""
        import time
        from netpolicy.lab import LabPod, LabSpec, build_lab
        with build_lab(LabSpec((LabPod("a", "10.7.0.1", ((80, "TCP"),)),), prefix={lab_prefix!r})):
            print("up", flush=True)
            time.sleep(60)
    """)
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "up"
            assert {n for n in netns_names() if n.startswith(lab_prefix)}
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert not {n for n in netns_names() if n.startswith(lab_prefix)}


def test_scale_30_pods_each_way_two_ports(
    lab_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pods = tuple(
        LabPod(f"ns/p{i}", f"10.8.{i // 200}.{i % 200 + 1}", ((80, "TCP"), (8080, "TCP")))
        for i in range(30)
    )
    started = time.monotonic()
    with build_lab(LabSpec(pods, prefix=lab_prefix)) as lab:
        built = time.monotonic()
        probes = all_probes(pods, ((80, "TCP"), (8080, "TCP")))
        results = probe_all(lab, probes)
        probed = time.monotonic()
    finished = time.monotonic()
    assert len(results) == 30 * 30 * 2
    assert all(r.connected for r in results)
    total = finished - started
    phases = ", ".join(f"{k} {v:.2f}" for k, v in lab.timings.items())
    with capsys.disabled():
        print(
            f"\n[lab scale] 30x30 pods x 2 TCP ports = {len(results)} probes: "
            f"setup {built - started:.2f} s, probes {probed - built:.2f} s, "
            f"teardown {finished - probed:.2f} s, total {total:.2f} s ({phases})"
        )
    assert total < 30


def _probe_socket_port(avoid: frozenset[int], served: tuple[tuple[int, str], ...]) -> int:
    """In a namespace with just two ephemeral ports: the port the pod's probe socket takes."""
    write_sysctls({"net.ipv4.ip_local_port_range": "40000 40001"})
    pod = _Pod(WorkerSetup("a", 0, "-", "127.0.0.1", served, "", {}, avoid_udp=avoid))
    for sock in (pod.tcp, pod.sctp, pod.icmp, pod.udp):
        sock.close()
    return pod.udp_port


def test_probe_socket_never_takes_a_probed_or_served_port(lab_prefix: str) -> None:
    """A datagram to the pod's own probe socket would time out where the pod should answer
    (echo or port unreachable): the lab keeps that socket off every port probed there."""
    netns = f"{lab_prefix}ports"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        for avoid, served, port in (
            ({40000}, (), 40001),  # probed on every pod (an undeclared port)
            ((), ((40000, "UDP"),), 40001),  # served here
            ({40001}, (), 40000),
        ):
            for _ in range(5):  # the kernel starts its search at a random port
                assert run_in_netns(netns, _probe_socket_port, frozenset(avoid), served) == port
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
