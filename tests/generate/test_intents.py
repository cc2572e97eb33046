"""The intent file: netpolicy/v1 Intents and Otterize ClientIntents, every mistake located."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy.generate.intents import (
    Endpoint,
    IntentPort,
    intents_from_document,
    load_intents,
    parse_endpoint,
    parse_port,
)
from netpolicy.model import LabelSelector

ISSUE_EXAMPLE = """\
apiVersion: netpolicy/v1
kind: Intents
namespaces: [shop, payments]        # the namespaces these intents govern (default deny goes there)
dns: true                           # allow UDP+TCP 53 to kube-dns (default true)
intents:
  - from: shop/frontend             # a workload or pod (ns/name), or ns/* (every pod of ns),
    to: shop/backend                # or {namespace: ns, selector: {matchLabels: ...}},
    ports: [8080/TCP]               # or an outside CIDR like 203.0.113.0/24
  - from: shop/backend
    to: payments/db
    ports: [postgres]               # a named port of the destination
  - from: 0.0.0.0/0
    to: shop/frontend
    ports: [8443/TCP]
"""


def _errors(text: str) -> list[str]:
    _, diagnostics = load_intents(text, filename="i.yaml")
    return [str(d) for d in diagnostics if d.severity == "error"]


def test_the_issue_example_reads_as_written() -> None:
    intents, diagnostics = load_intents(ISSUE_EXAMPLE, filename="intents.yaml")
    assert diagnostics == []
    assert intents.namespaces == ("shop", "payments")
    assert intents.dns is True
    first, second, third = intents.intents
    assert first.src == Endpoint("workload", "shop", "frontend")
    assert first.dst == Endpoint("workload", "shop", "backend")
    assert first.ports == (IntentPort("TCP", 8080),)
    assert second.ports == (IntentPort("TCP", "postgres"),)
    assert third.src == Endpoint("cidr", cidr="0.0.0.0/0")
    assert (first.source.file, first.source.line) == ("intents.yaml", 6)
    assert third.source.line == 12
    assert [i.index for i in intents.intents] == [1, 2, 3]


def test_a_path_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "intents.yaml"
    path.write_text(ISSUE_EXAMPLE)
    by_path, _ = load_intents(path)
    by_name, _ = load_intents(str(path))
    assert by_path == by_name
    assert by_path.intents[0].source.file == str(path)
    missing, problems = load_intents(tmp_path / "nope.yaml")
    assert missing.intents == () and "cannot read" in problems[0].message


def test_every_endpoint_form() -> None:
    text = textwrap.dedent(
        """\
        apiVersion: netpolicy/v1
        kind: Intents
        namespaces: [a]
        dns: false
        intents:
          - from: a/*
            to: {namespace: b, selector: {matchLabels: {app: web, tier: "1"}}}
          - from: 203.0.113.0/24
            to: a/web[Deployment]
          - from: 2001:db8::/32
            to: a/web
            ports: [443/TCP, 8000-8100/TCP, UDP, dns/UDP]
          - from: {namespace: c}
            to: 10.1.2.3
        """
    )
    intents, diagnostics = load_intents(text)
    assert diagnostics == []
    assert intents.dns is False
    one, two, three, four = intents.intents
    assert one.src == Endpoint("namespace", "a")
    assert one.dst == Endpoint(
        "selector", "b", selector=LabelSelector((("app", "web"), ("tier", "1")))
    )
    assert two.dst == Endpoint("workload", "a", "web[Deployment]")
    assert three.ports == (
        IntentPort("TCP", 443),
        IntentPort("TCP", 8000, 8100),
        IntentPort("UDP"),
        IntentPort("UDP", "dns"),
    )
    assert four.src == Endpoint("namespace", "c")  # no selector: every pod of c
    assert four.dst == Endpoint("cidr", cidr="10.1.2.3/32")
    assert [str(p) for p in three.ports] == ["443/TCP", "8000-8100/TCP", "UDP", "dns/UDP"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8080/TCP", IntentPort("TCP", 8080)),
        ("8080", IntentPort("TCP", 8080)),
        ("53/udp", IntentPort("UDP", 53)),
        ("80-80/TCP", IntentPort("TCP", 80)),
        ("postgres", IntentPort("TCP", "postgres")),
        ("SCTP", IntentPort("SCTP")),
    ],
)
def test_ports(text: str, expected: IntentPort) -> None:
    assert parse_port(text) == expected


@pytest.mark.parametrize(
    "text", ["0/TCP", "70000", "90-80/TCP", "80/ICMP", "Http", "a--b", "80/TCP/x", ""]
)
def test_bad_ports(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_port(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.1/8", "host bits set: did you mean 10.0.0.0/8"),
        ("10.0.0.0/33", "not an address or CIDR"),
        ("a/b/c", "expected ns/name"),
        ("Shop/web", "not a namespace name"),
        ("shop/Web", "not a workload or pod name"),
    ],
)
def test_bad_endpoints(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_endpoint(text)


def test_errors_name_the_line_and_the_field() -> None:
    text = textwrap.dedent(
        """\
        apiVersion: netpolicy/v1
        kind: Intents
        namespaces: [shop]
        intents:
          - from: shop/a
            to: shop/b
            port: [80]
          - from: shop/a
            to: {namespace: shop, selector: {matchLabels: {app: 1}}}
            ports: [http/XTP, 99999]
          - from: 10.0.0.1/8
            to: shop/b
          - from: 10.0.0.0/8
            to: 1.2.3.0/24
          - to: shop/b
          - from: shop/a
            to: 1.2.3.0/24
            ports: [https]
        """
    )
    assert _errors(text) == [
        "i.yaml:7: error: unknown field 'port' in an intent (did you mean ports?) "
        "(intents[0].port)",
        "i.yaml:9: error: 1 is not a label value (a string; quote numbers and true) "
        "(intents[1].to.selector.matchLabels.app)",
        "i.yaml:10: error: 'http/XTP': protocol must be TCP, UDP or SCTP, not 'XTP' "
        "(intents[1].ports[0])",
        "i.yaml:10: error: '99999': port 99999 is not in 1..65535 (intents[1].ports[1])",
        "i.yaml:11: error: '10.0.0.1/8' has host bits set: did you mean 10.0.0.0/8? "
        "(intents[2].from)",
        "i.yaml:13: error: both ends are outside addresses: no NetworkPolicy governs that "
        "(intents[3])",
        "i.yaml:15: error: from is required (intents[4])",
        "i.yaml:18: error: a named port never matches an outside address: give the number "
        "(e.g. 443/TCP) (intents[5].ports)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no document"),
        ("a: [", "not valid YAML"),
        ("- 1\n", "expected a mapping"),
        ("apiVersion: v1\nkind: Intents\nnamespaces: [a]\nintents: []\n", "apiVersion must be"),
        ("apiVersion: netpolicy/v1\nkind: Intent\nnamespaces: [a]\nintents: []\n", "kind must"),
        ("apiVersion: netpolicy/v1\nkind: Intents\nintents: []\n", "namespaces is required"),
        ("apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [a]\n", "intents is required"),
        (
            "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [a]\ndns: yes please\n"
            "intents: []\n",
            "dns must be true or false",
        ),
        (
            "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [a]\nintents: []\nextra: 1\n",
            "unknown field 'extra'",
        ),
        (
            "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [a]\nnamespaces: [b]\n",
            "duplicate key 'namespaces'",
        ),
    ],
)
def test_document_errors(text: str, message: str) -> None:
    errors = _errors(text)
    assert errors and message in errors[0], errors


def test_a_document_in_memory_reads_like_the_file() -> None:
    doc = {
        "apiVersion": "netpolicy/v1",
        "kind": "Intents",
        "namespaces": ["shop"],
        "dns": True,
        "intents": [
            {"from": "shop/frontend", "to": "shop/backend", "ports": ["8080/TCP"], "flows": 12},
            {"from": "203.0.113.7/32", "to": "shop/frontend", "ports": ["TCP"]},
        ],
    }
    intents, diagnostics = intents_from_document(doc, "flows.json")
    assert diagnostics == []
    assert intents.intents[0].flows == 12
    assert intents.intents[1].ports == (IntentPort("TCP"),)
    bad, problems = intents_from_document({**doc, "intents": [{"from": "x"}]}, "flows.json")
    assert bad.intents == ()
    assert [str(p) for p in problems] == [
        "flows.json: error: to is required (intents[0])",
        "flows.json: error: 'x': expected ns/name (a workload or pod), ns/* (every pod of ns), "
        "a CIDR, or {namespace: ns, selector: {matchLabels: ...}} (intents[0].from)",
    ]


OTTERIZE = textwrap.dedent(
    """\
    apiVersion: k8s.otterize.com/v1alpha3
    kind: ClientIntents
    metadata:
      name: frontend
      namespace: shop
    spec:
      service:
        name: frontend
      calls:
        - name: backend
        - name: db.payments
        - name: orders
          type: kafka
    ---
    apiVersion: k8s.otterize.com/v2
    kind: ClientIntents
    metadata:
      name: backend
      namespace: shop
    spec:
      workload:
        name: backend
        kind: Deployment
      targets:
        - kubernetes:
            name: db
            namespace: payments
            ports: [5432/TCP]
        - service:
            name: cart
        - internet:
            ips: [203.0.113.0/24]
            ports: [443]
        - sql:
            name: bookings
    """
)


def test_otterize_client_intents_v1alpha3_and_v2() -> None:
    intents, diagnostics = load_intents(OTTERIZE, filename="clientintents.yaml")
    assert intents.kind == "ClientIntents"
    assert intents.namespaces == ("shop", "payments")
    assert intents.dns is True
    assert [i.describe() for i in intents.intents] == [
        "shop/frontend -> shop/backend : all ports",
        "shop/frontend -> payments/db : all ports",
        "shop/backend -> payments/db : 5432/TCP",
        "shop/backend -> shop/cart : all ports",
        "shop/backend -> 203.0.113.0/24 : 443/TCP",
    ]
    assert [i.source.line for i in intents.intents] == [10, 11, 25, 29, 32]
    assert [(d.severity, d.source.line) for d in diagnostics] == [("info", 12), ("info", 34)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: k8s.otterize.com/v9\nkind: ClientIntents\nspec: {}\n", "unsupported"),
        ("apiVersion: k8s.otterize.com/v2\nkind: ClientIntents\nspec: {}\n", "spec.workload"),
        (
            "apiVersion: k8s.otterize.com/v2\nkind: ClientIntents\nspec:\n  workload: {name: a}"
            "\n  targets:\n    - kubernetes: {name: Bad_Name}\n",
            "not a workload name",
        ),
        (
            "apiVersion: k8s.otterize.com/v2\nkind: ClientIntents\nspec: {workload: {name: a}}\n"
            "---\napiVersion: netpolicy/v1\nkind: Intents\n",
            "every document must be a ClientIntents",
        ),
    ],
)
def test_otterize_errors(text: str, message: str) -> None:
    errors = _errors(text)
    assert errors and message in errors[0], errors


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.sampled_from(["shop/web", "shop/*", "10.0.0.0/8", "80/TCP", "http", "x", "", "a/b/c"]),
    st.text(max_size=8),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["from", "to", "ports", "namespace", "selector", "matchLabels", "app", "flows", "x"]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(
    st.fixed_dictionaries(
        {"apiVersion": st.sampled_from(["netpolicy/v1", "v1", 3])},
        optional={
            "kind": st.sampled_from(["Intents", "ClientIntents", None]),
            "namespaces": _values,
            "dns": _values,
            "intents": st.lists(_values, max_size=4) | _values,
            "spec": _values,
        },
    )
)
def test_any_document_gives_diagnostics_never_an_exception(doc: dict[str, object]) -> None:
    intents, diagnostics = intents_from_document(doc, "fuzz.yaml")
    assert all(d.source.file == "fuzz.yaml" for d in diagnostics)
    if not any(d.severity == "error" for d in diagnostics):
        assert intents.namespaces


@settings(max_examples=200)
@given(st.text(alphabet="ab:-[]{}#/\n *0.&!|>'\"", max_size=60))
def test_any_text_gives_diagnostics_never_an_exception(text: str) -> None:
    load_intents(text, filename="fuzz.yaml")
