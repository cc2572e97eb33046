"""Flows round trip: flows sampled from a random cluster's allowed connections, written as
Hubble JSON lines and as CSV -> intents -> generate -> the engine on the cluster with the
generated policies: every sampled flow is allowed, and nothing else touches a governed
workload (no pair that never appeared in the flows, no port that was not seen).

The clusters are those of `tests/strategies.py`, with pods grouped into workloads (a
StatefulSet of two replicas, or a bare pod) that carry one label of their own (`wl`, a key
no policy looks at), so that a selector can pick each workload alone. Reply flows and
DROPPED flows are written beside the sampled ones: neither may become an intent.
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.generate.intents import intents_from_document
from netpolicy.generate.observed import intents_from_flows
from netpolicy.generate.policies import generate_policies
from netpolicy.model import Cluster, OwnerRef, Pod, Protocol
from netpolicy.render.intents import render_intents
from netpolicy.semantics import ConnectionSet, IntervalSet
from netpolicy.semantics.addresses import format_address

from ..strategies import clusters

Flow = tuple[Pod | str, Pod | str, Protocol, int]
"""(source, destination, protocol, port): a pod, or an outside address."""


@st.composite
def workload_clusters(draw: st.DrawFn) -> Cluster:
    """A random cluster whose pods are workloads told apart by a label of their own."""
    base = draw(clusters())
    pods: list[Pod] = []
    for i, pod in enumerate(base.pods):
        labels = (*pod.labels, ("wl", f"w{i}"))
        if draw(st.booleans()):  # a StatefulSet of two replicas
            owner = OwnerRef("StatefulSet", f"w{i}")
            for j in range(2):
                ip = None if pod.ip is None else f"172.16.{i}.{j + 1}"
                if j == 0:
                    ip = pod.ip
                pods.append(
                    Pod(pod.namespace, f"w{i}-{j}", tuple(sorted(labels)), ip, pod.ports, owner)
                )
        else:
            pods.append(Pod(pod.namespace, f"w{i}", tuple(sorted(labels)), pod.ip, pod.ports))
    return Cluster(base.namespaces, tuple(pods), (), base.policies)


def _workload(pod: Pod) -> str:
    return f"{pod.namespace}/{pod.owner.name if pod.owner else pod.name}"


def _pick_port(conns: ConnectionSet, data: st.DataObject) -> tuple[Protocol, int]:
    protocols = [p for p, ports in conns.items() if ports]
    protocol = data.draw(st.sampled_from(protocols))
    ranges = conns.ports(protocol).ranges
    lo, hi = data.draw(st.sampled_from(ranges))
    return protocol, data.draw(st.integers(lo, min(hi, lo + 3)))


def _address(rng: IntervalSet, taken: set[str], data: st.DataObject) -> str:
    """An address of the outside range that no pod has."""
    lo, hi = rng.ranges[0]
    start = data.draw(st.integers(lo, min(hi, lo + 5)))
    for value in range(start, hi + 1):
        text = format_address(value)
        if text not in taken:
            return text
    raise AssertionError("an outside range made only of pod IPs")


def _sample(cluster: Cluster, data: st.DataObject) -> list[Flow]:
    result = compute_connectivity(cluster)
    allowed = list(result.pod_pairs())
    assume(allowed)
    taken = {p.ip for p in cluster.pods if p.ip}
    picks = data.draw(st.lists(st.integers(0, len(allowed) - 1), min_size=1, max_size=8))
    flows: list[Flow] = []
    for k in picks:
        src, dst, conns = allowed[k]
        protocol, port = _pick_port(conns, data)
        a = src if isinstance(src, Pod) else _address(src, taken, data)
        b = dst if isinstance(dst, Pod) else _address(dst, taken, data)
        flows.append((a, b, protocol, port))
    return flows


def _hubble_end(end: Pod | str) -> tuple[dict[str, object], str | None]:
    if isinstance(end, Pod):
        ep: dict[str, object] = {
            "namespace": end.namespace,
            "pod_name": end.name,
            "labels": [f"k8s:{k}={v}" for k, v in end.labels],
        }
        if end.owner is not None:
            ep["workloads"] = [{"name": end.owner.name, "kind": end.owner.kind}]
        return ep, end.ip
    return {"identity": 2, "labels": ["reserved:world"]}, end


def _hubble_line(flow: Flow, *, reply: bool = False, verdict: str = "FORWARDED") -> str:
    src, dst, protocol, port = flow
    (s, s_ip), (d, d_ip) = _hubble_end(src), _hubble_end(dst)
    body: dict[str, object] = {
        "verdict": verdict,
        "Type": "L3_L4",
        "source": s,
        "destination": d,
        "l4": {protocol: {"source_port": 40000, "destination_port": port}},
        "is_reply": False,
    }
    if reply:  # the answer: the other way round, from the port
        body["source"], body["destination"] = d, s
        body["l4"] = {protocol: {"source_port": port, "destination_port": 40000}}
        body["is_reply"] = True
        s_ip, d_ip = d_ip, s_ip
    ips = {k: v for k, v in (("source", s_ip), ("destination", d_ip)) if v}
    if ips:
        body["IP"] = ips
    return json.dumps({"flow": body, "node_name": "node-1"})


def _csv_end(end: Pod | str) -> str:
    return end.key if isinstance(end, Pod) else end


def _expected(flows: list[Flow]) -> dict[tuple[str, str], ConnectionSet]:
    """Per (source, destination) workload or address: the ports of the flows between them."""
    out: dict[tuple[str, str], ConnectionSet] = defaultdict(ConnectionSet.none)
    for src, dst, protocol, port in flows:
        a = _workload(src) if isinstance(src, Pod) else src
        b = _workload(dst) if isinstance(dst, Pod) else dst
        out[a, b] = out[a, b] | ConnectionSet.port(protocol, port)
    return out


def _end_name(end: Pod | IntervalSet) -> str:
    """A pod's workload; an outside range of one address as that address."""
    if isinstance(end, Pod):
        return _workload(end)
    lo, hi = end.ranges[0]
    return format_address(lo) if lo == hi else f"{format_address(lo)}-{format_address(hi)}"


def _check(cluster: Cluster, flows: list[Flow], doc: dict[str, object]) -> None:
    intents, problems = intents_from_document(doc, "flows")
    assert not [p for p in problems if p.severity == "error"], problems
    generated = generate_policies(intents, cluster)
    assert not generated.has_errors, [str(d) for d in generated.diagnostics]
    assert generated.proof is not None and not generated.proof.mismatches
    assert generated.cluster is not None
    governed = set(intents.namespaces)
    expected = _expected(flows)
    result = compute_connectivity(generated.cluster)
    allowed: dict[tuple[object, object], ConnectionSet] = {}
    for src, dst, conns in result.pod_pairs():
        touches = [e for e in (src, dst) if isinstance(e, Pod) and e.namespace in governed]
        if isinstance(src, Pod) and isinstance(dst, Pod):
            allowed[src.key, dst.key] = conns
        if not touches:
            continue
        # nothing more: a pair never seen allows nothing, a pair seen only its ports
        a, b = _end_name(src), _end_name(dst)
        extra = conns - expected.get((a, b), ConnectionSet.none())
        assert extra.is_empty(), f"{a} -> {b} allows {extra} that no flow showed"
        if all(isinstance(e, Pod) and e.namespace in governed for e in (src, dst)):
            # both ends generated: exactly what the flows of the two workloads showed
            assert conns == expected[a, b], f"{a} -> {b}: {conns} != {expected[a, b]}"
    for src, dst, protocol, port in flows:
        if isinstance(src, Pod) and isinstance(dst, Pod):
            assert allowed.get((src.key, dst.key), ConnectionSet.none()).allows(protocol, port), (
                f"sampled flow {src.key} -> {dst.key} {port}/{protocol} is not allowed"
            )
    outside = [
        (_end_name(s), _end_name(d), c)
        for s, d, c in result.pod_pairs()
        if not (isinstance(s, Pod) and isinstance(d, Pod))
    ]
    for src, dst, protocol, port in flows:
        if isinstance(src, Pod) and isinstance(dst, Pod):
            continue
        a = _workload(src) if isinstance(src, Pod) else src
        b = _workload(dst) if isinstance(dst, Pod) else dst
        assert any(x == a and y == b and c.allows(protocol, port) for x, y, c in outside), (
            f"sampled flow {a} -> {b} {port}/{protocol} is not allowed"
        )


def _workload_flows(flows: list[Flow]) -> None:
    """Flows between outside addresses are impossible here; a pod's own traffic is never
    sampled (the engine lists no self pairs)."""
    for src, dst, _, _ in flows:
        assert isinstance(src, Pod) or isinstance(dst, Pod)
        assert src is not dst


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cluster=workload_clusters(), data=st.data())
def test_flows_round_trip(cluster: Cluster, data: st.DataObject, tmp_path: Path) -> None:
    flows = _sample(cluster, data)
    _workload_flows(flows)
    for src, dst, _, _ in flows:
        if not (isinstance(src, Pod) and isinstance(dst, Pod)):
            event("a flow with an outside address")
        elif src.owner is not None and _workload(src) == _workload(dst):
            event("a flow between two replicas of one workload")
    if cluster.policies:
        event("the cluster had policies")
    hubble = tmp_path / "flows.jsonl"
    lines = []
    for flow in flows:
        lines.append(_hubble_line(flow))
        lines.append(_hubble_line(flow, reply=True))
    # blocked traffic between two pods of the input: never an intent
    src, dst = data.draw(st.sampled_from(cluster.pods)), data.draw(st.sampled_from(cluster.pods))
    lines.append(_hubble_line((src, dst, "TCP", 4444), verdict="DROPPED"))
    hubble.write_text("\n".join(lines) + "\n")
    doc, diagnostics = intents_from_flows(hubble, cluster, None)
    assert not [d for d in diagnostics if d.severity != "info"], diagnostics
    summary = diagnostics[-1].message
    assert f"{len(flows)} used" in summary and f"{len(flows)} reply flow(s)" in summary
    assert "1 DROPPED/ERROR" in summary
    assert sum(i["flows"] for i in doc["intents"]) == len(flows)
    _check(cluster, flows, doc)

    table = tmp_path / "flows.csv"
    header = ["src,dst,port,protocol"] if data.draw(st.booleans()) else []
    rows = [f"{_csv_end(s)},{_csv_end(d)},{port},{proto}" for s, d, proto, port in flows]
    table.write_text("\n".join(header + rows) + "\n")
    from_csv, csv_diagnostics = intents_from_flows(table, cluster, None)
    assert not [d for d in csv_diagnostics if d.severity != "info"], csv_diagnostics
    assert from_csv == doc  # the same observations, whichever format carried them

    # the YAML written for people reads back as the same document
    import yaml

    assert yaml.safe_load(render_intents(doc)) == doc


def test_sampled_addresses_are_outside() -> None:
    """The helper never hands out a pod's address as an outside one."""
    rng = IntervalSet.span(
        int(ipaddress.IPv4Address("10.0.0.1")), int(ipaddress.IPv4Address("10.0.0.3"))
    )

    class _Data:
        def draw(self, strategy: object) -> int:
            return int(ipaddress.IPv4Address("10.0.0.1"))

    found = _address(rng, {"10.0.0.1", "10.0.0.2"}, _Data())  # type: ignore[arg-type]
    assert found == "10.0.0.3"
