"""The HTML report: one self-contained file (scripts, styles and data inlined).

The page is the jinja2 template `templates/report.html.j2`; the data is one JSON document
(`report_document`) in a `<script type="application/json">`, read by `assets/report.js`,
which draws the graph with cytoscape.js (`assets/cytoscape.min.js`: `dist/cytoscape.min.js`
of `npm pack cytoscape@3.35.0` from registry.npmjs.org, MIT, shipped with its license as
`assets/cytoscape.LICENSE`). Nothing is fetched when the page opens.

Integer sets are written as ascending lists in which a run `a, a+1, ..., b` (three or more)
is `a, -b`: dense rows of the grouped connections shrink to a few numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any

from netpolicy.analysis.coverage import Coverage
from netpolicy.analysis.exposure import Exposure
from netpolicy.analysis.report import ExplainTable, ReportData
from netpolicy.render.coverage import coverage_to_dict

NEXT_SHOWN = 25
"""How many "do next" workloads of coverage the page lists."""

ASSETS = ("cytoscape.min.js", "report.js", "report.css")


def runs(values: Iterable[int]) -> list[int]:
    """Ascending distinct integers with each run of three or more as `first, -last`."""
    items = list(values)
    out: list[int] = []
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        if j - i >= 2:
            out += [items[i], -items[j]]
        else:
            out += items[i : j + 1]
        i = j + 1
    return out


def _explain(table: ExplainTable) -> dict[str, Any]:
    return {
        "classes": table.classes,
        "columns": table.columns,
        "sets": [runs(s) for s in table.sets],
        "named": table.named,
        "policyLists": [list(p) for p in table.policy_lists],
        "isolating": table.isolating,
        "rules": {
            direction: [[r.id, r.source, r.selects, r.peers, r.ports, r.named] for r in entries]
            for direction, entries in table.rules.items()
        },
    }


def _exposure(exposure: Exposure) -> dict[str, Any]:
    """Exposure items as `[workload, peer, ports]` indices into `strings` (the text
    `connlist --exposure` writes). Outside ranges are left to the graph (they are its range
    nodes and edges): a workload times every range would grow with the pairs."""
    strings: dict[str, int] = {}

    def at(text: str) -> int:
        return strings.setdefault(text, len(strings))

    doc: dict[str, Any] = {
        direction: [
            [at(i.workload), at(i.peer.text()), at(i.ports.describe())]
            for i in exposure.items(direction)
            if i.peer.kind != "ipRange"
        ]
        for direction in ("ingress", "egress")
    }
    doc["unprotected"] = [[at(u.workload), u.direction] for u in exposure.unprotected]
    doc["strings"] = list(strings)
    return doc


def _coverage(coverage: Coverage) -> dict[str, Any]:
    """The CoverageReport with, per namespace, how many workloads block the next step (the
    page shows the count; `netpolicy coverage -o json` lists them)."""
    doc: dict[str, Any] = coverage_to_dict(coverage, top=NEXT_SHOWN)
    for row in doc["namespaces"]:
        if row["nextStep"] is not None:
            row["nextStep"]["blocking"] = len(row["nextStep"]["blocking"])
    return doc


def report_document(data: ReportData) -> dict[str, Any]:
    """The data the page reads, as plain JSON values (endpoints column-wise)."""
    ns_index = {ns: i for i, ns in enumerate(data.namespaces)}
    eps = data.endpoints
    return {
        "apiVersion": "netpolicy/v1",
        "kind": "Report",
        "description": data.description,
        "counts": data.counts,
        "connections": data.connection_count(),
        "namespaces": data.namespaces,
        "endpoints": {
            "name": [e.name for e in eps],
            "ns": [ns_index[e.namespace] for e in eps],
            "kind": [e.kind for e in eps],
            "pods": [e.pods for e in eps],
            "group": [e.group for e in eps],
            "columns": [list(e.columns) for e in eps],
            # bit 1: isolated for ingress, bit 2: for egress
            "isolated": [e.isolated_ingress + 2 * e.isolated_egress for e in eps],
            "hostNetwork": [i for i, e in enumerate(eps) if e.host_network],
            # bit 1: exposed to the entire cluster for ingress, bit 2: for egress
            "entireCluster": [
                ("ingress" in e.entire_cluster) + 2 * ("egress" in e.entire_cluster) for e in eps
            ],
        },
        "groups": [
            {
                "id": g.id,
                "namespaces": list(g.namespaces),
                "selector": g.selector,
                "members": runs(g.members),
            }
            for g in data.groups
        ],
        "rows": [[r.src, [[pid, runs(d.tolist())] for pid, d in r.parts]] for r in data.rows],
        "portSets": [
            {"text": c.describe(), "all": c.is_all(), "empty": c.is_empty()}
            for c in data.port_sets.sets
        ],
        "namespacePairs": [
            [ns_index[p.src], ns_index[p.dst], p.connected, p.everything, p.ports]
            for p in data.namespace_pairs
        ],
        "explain": _explain(data.explain),
        "exposure": _exposure(data.exposure),
        "lint": {"counts": data.lint.counts, "findings": [f.to_dict() for f in data.lint.findings]},
        "coverage": _coverage(data.coverage),
        "warnings": [str(w) for w in data.warnings],
    }


@cache
def _asset(name: str) -> str:
    return resources.files("netpolicy.render").joinpath("assets", name).read_text("utf-8")


def _template() -> Any:
    from jinja2 import Environment, FunctionLoader, select_autoescape

    def load(name: str) -> str:
        return resources.files("netpolicy.render").joinpath("templates", name).read_text("utf-8")

    env = Environment(
        loader=FunctionLoader(load),
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2")


def script_json(value: object) -> str:
    """JSON safe inside a `<script>` element: no `<` can close it."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def script_text(text: str) -> str:
    """A script's source safe inside a `<script>` element."""
    return text.replace("</script", "<\\/script")


def render_report(data: ReportData, title: str = "netpolicy report") -> Iterator[str]:
    """The page, in chunks (the template's pieces; the data as one piece)."""
    from markupsafe import Markup

    return _template().generate(
        title=title,
        description=data.description,
        counts=data.counts,
        connections=data.connection_count(),
        data=Markup(script_json(report_document(data))),
        cytoscape=Markup(script_text(_asset("cytoscape.min.js"))),
        script=Markup(script_text(_asset("report.js"))),
        style=Markup(_asset("report.css").replace("</style", "<\\/style")),
    )
