"""Hubble flow logs (`hubble observe -o json`), hand-written lines of each kind."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netpolicy.generate.intents import intents_from_document
from netpolicy.generate.observed import intents_from_flows
from netpolicy.generate.policies import generate_policies
from netpolicy.model import Cluster

from .conftest import DATA

HUBBLE = DATA / "hubble.jsonl"


def test_hubble_lines_become_intents(snapshot: Cluster) -> None:
    doc, diagnostics = intents_from_flows(HUBBLE, snapshot, None)
    assert doc == {
        "apiVersion": "netpolicy/v1",
        "kind": "Intents",
        # kube-system is not governed: its only flow was a DNS lookup
        "namespaces": ["default", "payments", "shop"],
        "dns": True,
        "intents": [
            # line 16: SCTP, a bare pod by name, a StatefulSet's pod
            {"from": "default/debug", "to": "payments/db", "ports": ["3868/SCTP"], "flows": 1},
            # line 4: the destination known only by its IP
            {"from": "shop/backend", "to": "payments/db", "ports": ["5432/TCP"], "flows": 1},
            # line 13: an address of no pod
            {"from": "shop/backend", "to": "93.184.216.34/32", "ports": ["443/TCP"], "flows": 1},
            # lines 1, 3 (a pod the snapshot lacks, by Hubble's workloads), 17: 8080 and 8081
            {"from": "shop/frontend", "to": "shop/backend", "ports": ["8080-8081/TCP"], "flows": 3},
            # line 15: AUDIT, UDP, a pod the snapshot lacks, by its name worker-<hash>-<id>
            {"from": "shop/worker", "to": "shop/backend", "ports": ["9000/UDP"], "flows": 1},
            # line 5: from the world
            {"from": "203.0.113.9/32", "to": "shop/frontend", "ports": ["8443/TCP"], "flows": 1},
            # line 7: IPv6
            {"from": "2001:db8::7/128", "to": "shop/legacy", "ports": ["80/TCP"], "flows": 1},
        ],
    }
    shown = [str(d) for d in diagnostics]
    assert shown[:3] == [
        f"{HUBBLE}:12: error: not JSON: Expecting property name enclosed in double quotes "
        "(column 34)",
        f"{HUBBLE}:20: error: l4.TCP.destination_port: '80' is not a port",
        f"{HUBBLE}:14: warning: pod shop/ghost-abc is not in the cluster snapshot and belongs "
        "to none of its workloads: 1 flow(s) left out",
    ]
    summary = diagnostics[3]
    assert summary.severity == "info"
    assert summary.message == (
        "20 flow line(s): 9 used for 7 intent(s); left out: 1 reply flow(s) (is_reply), "
        "1 DROPPED/ERROR flow(s) (blocked traffic: never an intent), "
        "1 DNS lookup(s) (covered by dns: true), "
        "2 without a TCP/UDP/SCTP port or not L3/L4 (ICMP, L7 records), "
        "2 other events and verdicts (TRACED, TRANSLATED, unknown), "
        "1 a pod's traffic to itself, 1 with a pod the cluster lacks"
    )
    assert len(diagnostics) == 4


def test_the_document_loads_and_generates_exactly(snapshot: Cluster) -> None:
    doc, _ = intents_from_flows(HUBBLE, snapshot, None)
    intents, problems = intents_from_document(doc, "flows")
    assert problems == []
    assert [i.flows for i in intents.intents] == [1, 1, 1, 3, 1, 1, 1]
    generated = generate_policies(intents, snapshot)
    assert not generated.has_errors, [str(d) for d in generated.diagnostics]
    assert generated.proof.mismatches == []
    assert generated.proof.blocked == []


def test_widen(snapshot: Cluster) -> None:
    doc, diagnostics = intents_from_flows(HUBBLE, snapshot, 24)
    ends = {(i["from"], i["to"]) for i in doc["intents"]}
    assert ("shop/backend", "93.184.216.0/24") in ends
    assert ("203.0.113.0/24", "shop/frontend") in ends
    # IPv6 addresses stay exact: a /24 means nothing for them
    assert ("2001:db8::7/128", "shop/legacy") in ends
    assert all(d.code != "widened-over-pods" for d in diagnostics)
    _, problems = intents_from_document(doc, "flows")
    assert problems == []


def _write(tmp_path: Path, *flows: dict[str, object]) -> Path:
    path = tmp_path / "flows.json"
    path.write_text("".join(json.dumps(f) + "\n" for f in flows))
    return path


def _flow(src_ip: str, dst: str, port: int, **extra: object) -> dict[str, object]:
    ns, pod = dst.split("/")
    body = {
        "verdict": "FORWARDED",
        "IP": {"source": src_ip},
        "source": {"labels": ["reserved:world"]},
        "destination": {"namespace": ns, "pod_name": pod},
        "l4": {"TCP": {"destination_port": port}},
        **extra,
    }
    return {"flow": body}


def test_widened_cidr_over_pod_ips_is_a_warning(snapshot: Cluster, tmp_path: Path) -> None:
    path = _write(tmp_path, _flow("10.244.9.9", "shop/backend-5c4b9-xyz12", 8080))
    doc, diagnostics = intents_from_flows(path, snapshot, 16)
    assert doc["intents"] == [
        {"from": "10.244.0.0/16", "to": "shop/backend", "ports": ["8080/TCP"], "flows": 1}
    ]
    warned = [d for d in diagnostics if d.code == "widened-over-pods"]
    assert len(warned) == 1
    assert warned[0].message.startswith("10.244.0.0/16 (widened from 10.244.9.9) holds pod IPs")
    assert "shop/frontend" in warned[0].message


def test_unknown_ip_is_a_host_address_and_a_pod_ip_names_the_pod(
    snapshot: Cluster, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        _flow("10.244.9.9", "shop/backend-5c4b9-xyz12", 8080),
        # a pod's address names the pod even without its name in the flow
        _flow("10.244.1.5", "shop/backend-5c4b9-xyz12", 8080),
        # an IPv4-mapped IPv6 address is the IPv4 address
        _flow("::ffff:10.244.1.5", "shop/backend-5c4b9-xyz12", 8080),
        # an IPv6 pod by its address (written in another spelling)
        _flow("fd00:10:244:0::5", "shop/backend-5c4b9-xyz12", 8080),
        _flow("2001:db8::9", "shop/backend-5c4b9-xyz12", 8080),
    )
    doc, _ = intents_from_flows(path, snapshot, None)
    assert doc["intents"] == [
        {"from": "shop/frontend", "to": "shop/backend", "ports": ["8080/TCP"], "flows": 2},
        {"from": "shop/legacy", "to": "shop/backend", "ports": ["8080/TCP"], "flows": 1},
        {"from": "10.244.9.9/32", "to": "shop/backend", "ports": ["8080/TCP"], "flows": 1},
        {"from": "2001:db8::9/128", "to": "shop/backend", "ports": ["8080/TCP"], "flows": 1},
    ]


def test_bare_flows_and_numeric_verdicts(snapshot: Cluster, tmp_path: Path) -> None:
    bare = _flow("203.0.113.1", "shop/backend-5c4b9-xyz12", 8080)["flow"]
    assert isinstance(bare, dict)
    path = _write(
        tmp_path,
        bare,
        {**bare, "verdict": 2},  # DROPPED as the enum number
        {**bare, "reply": True},  # the deprecated reply flag
        {**bare, "verdict": "ERROR"},
    )
    doc, diagnostics = intents_from_flows(path, snapshot, None)
    assert [i["flows"] for i in doc["intents"]] == [1]
    assert "2 DROPPED/ERROR flow(s)" in diagnostics[-1].message
    assert "1 reply flow(s)" in diagnostics[-1].message


def test_bad_lines_are_located_and_the_rest_is_read(snapshot: Cluster, tmp_path: Path) -> None:
    good = _flow("203.0.113.1", "shop/backend-5c4b9-xyz12", 8080)
    path = tmp_path / "flows.json"
    lines = [
        json.dumps(good),
        "[1, 2]",
        json.dumps({"flow": {**good["flow"], "IP": {"source": "not-an-ip"}}}),  # type: ignore[dict-item]
        json.dumps({"flow": {"verdict": "FORWARDED", "l4": {"UDP": {"destination_port": 53}}}}),
        json.dumps({"flow": {**good["flow"], "verdict": ["x"]}}),  # type: ignore[dict-item]
        json.dumps({"flow": {**good["flow"], "l4": {"TCP": {"destination_port": 70000}}}}),  # type: ignore[dict-item]
        "",
        json.dumps(good),
    ]
    path.write_text("\n".join(lines) + "\n")
    doc, diagnostics = intents_from_flows(path, snapshot, None)
    assert doc["intents"][0]["flows"] == 2
    errors = [(d.source.line, d.message) for d in diagnostics if d.severity == "error"]
    assert errors == [
        (2, "not a JSON object"),
        (3, "'not-an-ip' is not an IP address"),
        (4, "an endpoint with neither pod_name nor IP address"),
        (5, "verdict must be a string"),
        (6, "l4.TCP.destination_port: 70000 is not a port"),
    ]


def test_unreadable_file_and_bad_widen(snapshot: Cluster, tmp_path: Path) -> None:
    doc, diagnostics = intents_from_flows(tmp_path / "missing.json", snapshot, None)
    assert doc["intents"] == []
    assert [d.severity for d in diagnostics] == ["error"]
    assert "cannot read flows" in diagnostics[0].message
    _, diagnostics = intents_from_flows(HUBBLE, snapshot, 33)
    assert [str(d) for d in diagnostics] == [
        f"{HUBBLE}: error: --widen 33: an IPv4 prefix length 0-32"
    ]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["verdict", "IP", "l4", "source", "destination", "Type", "is_reply", "reply", "flow"]
)
FLOWS = st.dictionaries(FIELDS, JSON_VALUES, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(
        st.one_of(
            FLOWS.map(json.dumps),
            FLOWS.map(lambda f: json.dumps({"flow": f})),
            st.text(max_size=40),
        ),
        max_size=6,
    ),
    csv_first=st.booleans(),
)
def test_any_input_gives_diagnostics_never_a_traceback(
    snapshot: Cluster, lines: list[str], csv_first: bool
) -> None:
    import tempfile

    text = "\n".join((["a,b,80,TCP"] if csv_first else []) + lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        doc, diagnostics = intents_from_flows(path, snapshot, 24)
    assert doc["kind"] == "Intents"
    for d in diagnostics:
        if d.severity == "error" and d.code == "bad-flow":
            assert d.source.line >= 1
