"""The YAML of an intents document: stable, commented, read back as the same document."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from netpolicy import api
from netpolicy.generate.intents import load_intents
from netpolicy.generate.observed import intents_from_flows
from netpolicy.model import Cluster
from netpolicy.render.intents import render_intents

from .conftest import DATA


def test_learned_intents_as_yaml(snapshot: Cluster) -> None:
    doc, diagnostics = intents_from_flows(DATA / "flows.csv", snapshot, None)
    text = render_intents(doc, [d.message for d in diagnostics if d.severity == "info"])
    assert text.splitlines()[:10] == [
        "# 12 flow line(s): 6 used for 4 intent(s); left out: 1 DNS lookup(s) (covered by dns: "
        "true), 1 with a pod the cluster lacks",
        "apiVersion: netpolicy/v1",
        "kind: Intents",
        "namespaces: [payments, shop]",
        "dns: true",
        "intents:",
        "  - from: shop/backend  # 2 flows observed",
        "    to: payments/db",
        "    ports: [5432-5433/TCP]",
        "    flows: 2",
    ]
    assert yaml.safe_load(text) == doc
    # the intent file reader takes it as it is, lines and all
    intents, problems = load_intents(text, filename="learned.yaml")
    assert problems == []
    assert intents.intents[1].source.line == 11
    assert [i.flows for i in intents.intents] == [2, 2, 1, 1]


def test_current_intents_as_yaml() -> None:
    doc, _ = api.intents_from_cluster(api.load_demo().cluster)
    text = render_intents(doc)
    assert "  - from: payments/db\n    to: default/*\n" in text
    assert "flow" not in text  # no counts: nothing was observed
    assert yaml.safe_load(text) == doc
    _, problems = load_intents(text, filename="current.yaml")
    assert problems == []


def test_no_intents() -> None:
    doc = {"apiVersion": "netpolicy/v1", "kind": "Intents", "namespaces": [], "dns": True}
    doc["intents"] = []
    assert render_intents(doc).endswith("dns: true\nintents: []\n")
    assert yaml.safe_load(render_intents(doc)) == doc


TRICKY = st.sampled_from(
    ["yes", "no", "on", "null", "~", "true", "1e3", "0x1F", "12:30", "2001-12-14", "8080", "1.5"]
)


@given(
    names=st.lists(st.one_of(TRICKY, st.text(min_size=1, max_size=8)), min_size=1, max_size=4),
    flows=st.integers(0, 10**6),
)
def test_any_string_reads_back(names: list[str], flows: int) -> None:
    selector = {"namespace": "x", "selector": {"matchLabels": {"app": names[0]}}}
    doc = {
        "apiVersion": "netpolicy/v1",
        "kind": "Intents",
        "namespaces": names,
        "dns": False,
        "intents": [
            {"from": n, "to": selector, "ports": [n, "80/TCP"], "flows": flows} for n in names
        ],
    }
    text = render_intents(doc, ["a comment\nover two lines"])
    assert yaml.safe_load(text) == doc
    assert text.startswith("# a comment\n# over two lines\n")
