"""The plain CSV of observed connections: `src,dst,port,protocol`, header optional."""

from __future__ import annotations

from pathlib import Path

from netpolicy.generate.intents import intents_from_document
from netpolicy.generate.observed import intents_from_flows
from netpolicy.model import Cluster

from .conftest import DATA

CSV = DATA / "flows.csv"

EXPECTED = [
    # line 5 names the backend by its IP, line 6 the StatefulSet with its kind
    {"from": "shop/backend", "to": "payments/db", "ports": ["5432-5433/TCP"], "flows": 2},
    # line 2 by pod names, line 3 by workload names (and the protocol in lower case)
    {"from": "shop/frontend", "to": "shop/backend", "ports": ["8080/TCP"], "flows": 2},
    # line 5: three fields, TCP by default
    {"from": "203.0.113.9/32", "to": "shop/frontend", "ports": ["8443/TCP"], "flows": 1},
    {"from": "2001:db8::1/128", "to": "shop/legacy", "ports": ["80/TCP"], "flows": 1},
]

ERRORS = [
    (7, "error", "port 'http' is not a number in 1-65535"),
    (8, "error", "protocol 'ICMP' is not one of TCP, UDP, SCTP"),
    (9, "error", "expected src,dst,port,protocol: 2 fields"),
    (10, "error", "'nonsense' is neither a pod or workload (ns/name) nor an IP address"),
    (
        11,
        "warning",
        "pod shop/ghost is not in the cluster snapshot and belongs to none of its workloads: "
        "1 flow(s) left out",
    ),
]


def test_csv_with_header(snapshot: Cluster) -> None:
    doc, diagnostics = intents_from_flows(CSV, snapshot, None)
    assert doc["namespaces"] == ["payments", "shop"]
    assert doc["intents"] == EXPECTED
    located = [(d.source.line, d.severity, d.message) for d in diagnostics[:-1]]
    assert located == ERRORS
    assert all(d.source.file == str(CSV) for d in diagnostics)
    assert diagnostics[-1].message == (
        "12 flow line(s): 6 used for 4 intent(s); left out: "
        "1 DNS lookup(s) (covered by dns: true), 1 with a pod the cluster lacks"
    )
    _, problems = intents_from_document(doc, "flows.csv")
    assert problems == []


def test_csv_without_header(snapshot: Cluster, tmp_path: Path) -> None:
    lines = CSV.read_text().splitlines()
    assert lines[0] == "src,dst,port,protocol"
    bare = tmp_path / "flows.csv"
    bare.write_text("\n".join(["# exported from the firewall logs", *lines[1:]]) + "\n")
    doc, diagnostics = intents_from_flows(bare, snapshot, None)
    assert doc["intents"] == EXPECTED
    # the comment line takes the header's place: the same lines are reported
    assert [(d.source.line, d.severity, d.message) for d in diagnostics[:-1]] == ERRORS


def test_csv_widen_and_quoting(snapshot: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    path.write_text(
        '"203.0.113.9","shop/frontend","8443","TCP"\n'
        "203.0.113.200,shop/frontend,8443,TCP\n"
        "shop/frontend,198.51.100.0/24,443,TCP\n"
    )
    doc, diagnostics = intents_from_flows(path, snapshot, 24)
    assert doc["intents"] == [
        {"from": "shop/frontend", "to": "198.51.100.0/24", "ports": ["443/TCP"], "flows": 1},
        {"from": "203.0.113.0/24", "to": "shop/frontend", "ports": ["8443/TCP"], "flows": 2},
    ]
    assert [d.severity for d in diagnostics] == ["info"]


def test_csv_pod_to_itself_is_not_an_intent(snapshot: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    path.write_text(
        "payments/db-0,payments/db-0,5432,TCP\n"  # one pod to itself: always allowed
        "payments/db-0,payments/db-1,5432,TCP\n"  # two replicas: an intent db -> db
    )
    doc, diagnostics = intents_from_flows(path, snapshot, None)
    assert doc["intents"] == [
        {"from": "payments/db", "to": "payments/db", "ports": ["5432/TCP"], "flows": 1}
    ]
    assert "1 a pod's traffic to itself" in diagnostics[-1].message
