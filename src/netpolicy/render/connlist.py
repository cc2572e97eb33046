"""The connection list in the formats of the output contract: json, txt, csv, md, dot.

`connlist_chunks` streams any number of connections from `ConnectionRows` as text chunks of
about `CHUNK` characters, formatting each line from text prepared once per endpoint and per
port set; the `render_*` functions below format a small list in one string.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence

from netpolicy.analysis.connlist import Connection, ConnectionRows
from netpolicy.render.chunks import chunked
from netpolicy.semantics import ConnectionSet

FORMATS = ("txt", "json", "csv", "md", "dot")
CHUNK = 1 << 20
"""Characters per chunk handed to the writer."""


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


def render_dot_nodes(nodes: list[str]) -> str:
    """`digraph {` and the nodes: one cluster per namespace, outside ranges as boxes."""
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
    return "\n".join(lines) + "\n"


def render_dot(conns: Sequence[Connection]) -> str:
    """A Graphviz digraph: one cluster per namespace, outside ranges as boxes."""
    nodes = sorted({c.src for c in conns} | {c.dst for c in conns})
    lines = [render_dot_nodes(nodes).rstrip("\n")]
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


def _json_tail(conns: ConnectionSet) -> str:
    return (
        f', "all": {"true" if conns.is_all() else "false"}, '
        f'"ports": {json.dumps(conns.to_contract())}}}'
    )


def _csv_field(text: str) -> str:
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


class _PortTexts:
    """Text of each port-set id, made once, as ids are handed out."""

    def __init__(self, rows: ConnectionRows, make: Callable[[ConnectionSet], str]) -> None:
        self.rows, self.make = rows, make
        self.texts: list[str] = []

    def __getitem__(self, i: int) -> str:
        texts = self.texts
        while len(texts) <= i:
            texts.append(self.make(self.rows.port_sets[len(texts)]))
        return texts[i]


def _lines(rows: ConnectionRows, fmt: str) -> Iterator[str]:
    names = rows.names
    if fmt == "json":
        quoted = [json.dumps(n) for n in names]
        tails = _PortTexts(rows, _json_tail)
        yield '{"apiVersion": "netpolicy/v1", "kind": "ConnectivityList", "connections": [\n'
        sep = ""
        for src, dsts, ids in rows:
            head = f'    {{"src": {quoted[src]}, "dst": '
            yield sep + ",\n".join(
                f"{head}{quoted[d]}{tails[i]}"
                for d, i in zip(dsts.tolist(), ids.tolist(), strict=True)
            )
            sep = ",\n"
        yield ("\n" if sep else "") + "]}\n"
    elif fmt == "txt":
        described = _PortTexts(rows, ConnectionSet.describe)
        for src, dsts, ids in rows:
            head = f"{names[src]} => "
            yield "".join(
                f"{head}{names[d]} : {described[i]}\n"
                for d, i in zip(dsts.tolist(), ids.tolist(), strict=True)
            )
    elif fmt == "csv":
        fields = [_csv_field(n) for n in names]
        described = _PortTexts(rows, lambda c: _csv_field(c.describe()))
        yield "src,dst,conn\n"
        for src, dsts, ids in rows:
            head = f"{fields[src]},"
            yield "".join(
                f"{head}{fields[d]},{described[i]}\n"
                for d, i in zip(dsts.tolist(), ids.tolist(), strict=True)
            )
    elif fmt == "md":
        described = _PortTexts(rows, ConnectionSet.describe)
        yield "| src | dst | conn |\n|-----|-----|------|\n"
        for src, dsts, ids in rows:
            head = f"| {names[src]} | "
            yield "".join(
                f"{head}{names[d]} | {described[i]} |\n"
                for d, i in zip(dsts.tolist(), ids.tolist(), strict=True)
            )
    else:
        yield from _dot_lines(rows)


def _dot_lines(rows: ConnectionRows) -> Iterator[str]:
    """Nodes first (a first pass over the rows finds which endpoints take part), then edges."""
    names = rows.names
    used: set[int] = set()
    for src, dsts, _ids in rows:
        used.add(src)
        used.update(dsts.tolist())
    nodes = [names[i] for i in sorted(used)]
    yield render_dot_nodes(nodes)
    described = _PortTexts(rows, ConnectionSet.describe)
    for src, dsts, ids in rows:
        yield "".join(
            f'\t"{names[src]}" -> "{names[d]}" [label="{described[i]}" '
            "color=gold2 fontcolor=darkgreen]\n"
            for d, i in zip(dsts.tolist(), ids.tolist(), strict=True)
        )
    yield "}\n"


def connlist_chunks(rows: ConnectionRows, fmt: str) -> Iterator[str]:
    """The connection list in `fmt`, as chunks of about CHUNK characters."""
    return chunked(_lines(rows, fmt), CHUNK)
