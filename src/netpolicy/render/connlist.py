"""The connection list in the formats of the output contract: json, txt, csv, md, dot."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from netpolicy.analysis.connlist import Connection

FORMATS = ("txt", "json", "csv", "md", "dot")


def render_json(conns: Sequence[Connection]) -> str:
    """The ConnectivityList document, one connection per line (fast and diff-friendly)."""
    tails: dict[int, str] = {}
    lines = []
    for c in conns:
        tail = tails.get(id(c.connections))
        if tail is None:
            tail = (
                f', "all": {"true" if c.connections.is_all() else "false"}, '
                f'"ports": {json.dumps(c.connections.to_contract())}}}'
            )
            tails[id(c.connections)] = tail
        lines.append(f'    {{"src": {json.dumps(c.src)}, "dst": {json.dumps(c.dst)}{tail}')
    body = ",\n".join(lines)
    return (
        '{"apiVersion": "netpolicy/v1", "kind": "ConnectivityList", "connections": [\n'
        + body
        + ("\n" if lines else "")
        + "]}\n"
    )


def render_txt(conns: Sequence[Connection]) -> str:
    return "".join(f"{c.src} => {c.dst} : {c.connections.describe()}\n" for c in conns)


def render_csv(conns: Sequence[Connection]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["src", "dst", "conn"])
    for c in conns:
        writer.writerow([c.src, c.dst, c.connections.describe()])
    return out.getvalue()


def render_md(conns: Sequence[Connection]) -> str:
    lines = ["| src | dst | conn |", "|-----|-----|------|"]
    lines += [f"| {c.src} | {c.dst} | {c.connections.describe()} |" for c in conns]
    return "\n".join(lines) + "\n"


def _namespace(name: str) -> str | None:
    return name.split("/", 1)[0] if "/" in name else None


def render_dot(conns: Sequence[Connection]) -> str:
    """A Graphviz digraph: one cluster per namespace, outside ranges as boxes."""
    nodes = sorted({c.src for c in conns} | {c.dst for c in conns})
    by_ns: dict[str | None, list[str]] = {}
    for n in nodes:
        by_ns.setdefault(_namespace(n), []).append(n)
    lines = ["digraph {"]
    for ns in sorted(by_ns, key=lambda k: (k is None, k or "")):
        members = by_ns[ns]
        if ns is None:
            lines += [f'\t"{n}" [label="{n}" shape=box color=red2 fontcolor=red2]' for n in members]
            continue
        lines.append(f'\tsubgraph "cluster_{ns}" {{')
        lines.append(f'\t\tlabel="{ns}"')
        lines += [
            f'\t\t"{n}" [label="{n.split("/", 1)[1]}" color=blue fontcolor=blue]' for n in members
        ]
        lines.append("\t}")
    for c in conns:
        lines.append(
            f'\t"{c.src}" -> "{c.dst}" [label="{c.connections.describe()}" '
            f"color=gold2 fontcolor=darkgreen]"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_connlist(conns: Sequence[Connection], fmt: str) -> str:
    renderers = {
        "json": render_json,
        "txt": render_txt,
        "csv": render_csv,
        "md": render_md,
        "dot": render_dot,
    }
    return renderers[fmt](conns)
