"""The connection list in the formats of the output contract: json, txt, csv, md, dot.

`connlist_chunks` streams any number of connections from `ConnectionRows` as text chunks of
about `CHUNK` characters, formatting each line from text prepared once per endpoint and per
port set; the `render_*` functions below format a small list in one string.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.connlist import Connection, ConnectionRows
from netpolicy.render import formats
from netpolicy.render.chunks import chunked
from netpolicy.semantics import ConnectionSet

FORMATS = formats.CONNLIST
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


class HasPortSets(Protocol):
    """Rows whose port-set ids name the ConnectionSets of `port_sets`."""

    @property
    def port_sets(self) -> list[ConnectionSet]: ...


def json_tail(conns: ConnectionSet) -> str:
    return (
        f', "all": {"true" if conns.is_all() else "false"}, '
        f'"ports": {json.dumps(conns.to_contract())}}}'
    )


def _csv_field(text: str) -> str:
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


class PortTexts:
    """Text of each port-set id, made once, as ids are handed out."""

    def __init__(self, rows: HasPortSets, make: Callable[[ConnectionSet], str]) -> None:
        self.rows, self.make = rows, make
        self.texts: list[str] = []

    def __getitem__(self, i: int) -> str:
        texts = self.texts
        while len(texts) <= i:
            texts.append(self.make(self.rows.port_sets[len(texts)]))
        return texts[i]


PIECES = 1 << 22
"""Pieces of text (destination + ports) kept for reuse; the table starts over beyond that."""


class _Pieces:
    """The text of a line after its source, per (destination, port-set id), made once.

    A row's lines are then gathered with one NumPy fancy index and joined in C: formatting
    costs a copy per line, not an f-string. Pieces are made only for the pairs that occur,
    and the table starts over when it holds more than PIECES of them (memory stays bounded
    on any input)."""

    def __init__(self, count: int, make: Callable[[int, int], bytes]) -> None:
        self.count, self.make = count, make
        self.table: NDArray[np.object_] = np.empty((count, 0), dtype=object)
        self.made: NDArray[np.bool_] = np.zeros((count, 0), dtype=bool)
        self.held = 0

    def _widen(self, ids: int) -> None:
        width = max(ids, 2 * self.table.shape[1], 8)
        table = np.empty((self.count, width), dtype=object)
        made = np.zeros((self.count, width), dtype=bool)
        if self.held:
            old = self.table.shape[1]
            table[:, :old], made[:, :old] = self.table, self.made
        self.table, self.made = table, made

    def row(self, dsts: NDArray[np.int64], ids: NDArray[np.int64]) -> list[bytes]:
        top = int(ids.max()) + 1
        if top > self.table.shape[1]:
            self._widen(top)
        missing = np.flatnonzero(~self.made[dsts, ids])
        if len(missing):
            if self.held + len(missing) > PIECES:
                self.table[:] = None
                self.made[:] = False
                self.held = 0
                missing = np.arange(len(dsts))
            table, make = self.table, self.make
            for d, i in zip(dsts[missing].tolist(), ids[missing].tolist(), strict=True):
                table[d, i] = make(d, i)
            self.made[dsts[missing], ids[missing]] = True
            self.held += len(missing)
        return self.table[dsts, ids].tolist()  # type: ignore[no-any-return]


def _line_parts(
    rows: ConnectionRows, fmt: str
) -> tuple[Callable[[int], str], Callable[[int, int], str], str]:
    """For `fmt`: the start of a line for a source, the rest of it for (destination, port-set
    id), and what separates lines (after the rest of one, before the start of the next)."""
    names = rows.names
    if fmt == "json":
        quoted = [json.dumps(n) for n in names]
        tails = PortTexts(rows, json_tail)
        return (
            lambda s: f'    {{"src": {quoted[s]}, "dst": ',
            lambda d, i: quoted[d] + tails[i],
            ",\n",
        )
    if fmt == "csv":
        fields = [_csv_field(n) for n in names]
        csv_ports = PortTexts(rows, lambda c: _csv_field(c.describe()))
        return lambda s: f"{fields[s]},", lambda d, i: f"{fields[d]},{csv_ports[i]}\n", ""
    described = PortTexts(rows, ConnectionSet.describe)
    if fmt == "txt":
        return lambda s: f"{names[s]} => ", lambda d, i: f"{names[d]} : {described[i]}\n", ""
    if fmt == "md":
        return lambda s: f"| {names[s]} | ", lambda d, i: f"{names[d]} | {described[i]} |\n", ""
    return (
        lambda s: f'\t"{names[s]}" -> "',
        lambda d, i: f'{names[d]}" [label="{described[i]}" color=gold2 fontcolor=darkgreen]\n',
        "",
    )


def _row_lines(rows: ConnectionRows, fmt: str, between: bytes = b"") -> Iterator[bytes]:
    """The lines of every row, as one UTF-8 string per row (`between` between rows)."""
    start, rest, sep = _line_parts(rows, fmt)
    return row_texts(rows, len(rows.names), start, rest, sep, between)


def row_texts(
    rows: Iterable[tuple[int, NDArray[np.int64], NDArray[np.int64]]],
    count: int,
    start: Callable[[int], str],
    rest: Callable[[int, int], str],
    sep: str = "",
    between: bytes = b"",
) -> Iterator[bytes]:
    """Rows of (source, destinations, port-set ids) over `count` endpoints as text: per line
    `start(source)`, then `rest(destination, port-set id)` (made once per pair, `_Pieces`),
    `sep` between lines and `between` between rows. One join per row is the only copy the
    text goes through before the write."""
    pieces = _Pieces(count, lambda d, i: rest(d, i).encode())
    before = b""
    separator = sep.encode()
    for src, dsts, ids in rows:
        head = start(src).encode()
        lines = pieces.row(dsts, ids)
        lines[0] = before + head + lines[0]
        yield (separator + head).join(lines)
        before = between


def _lines(rows: ConnectionRows, fmt: str, extra: str = "") -> Iterator[bytes]:
    if fmt == "json":
        yield b'{"apiVersion": "netpolicy/v1", "kind": "ConnectivityList", "connections": [\n'
        empty = True
        for text in _row_lines(rows, fmt, b",\n"):
            yield text
            empty = False
        yield (("" if empty else "\n") + "]" + extra + "}\n").encode()
        return
    if fmt == "csv":
        yield b"src,dst,conn\n"
    elif fmt == "md":
        yield b"| src | dst | conn |\n|-----|-----|------|\n"
    elif fmt == "dot":
        yield _dot_nodes(rows).encode()
    yield from _row_lines(rows, fmt)
    if fmt == "dot":
        yield (extra + "}\n").encode()


def _dot_nodes(rows: ConnectionRows) -> str:
    """`digraph {` and the nodes that take part (a first pass over the rows finds them)."""
    used = np.zeros(len(rows.names), dtype=bool)
    for src, dsts, _ids in rows:
        used[src] = True
        used[dsts] = True
    return render_dot_nodes([rows.names[i] for i in np.flatnonzero(used).tolist()])


def connlist_chunks(rows: ConnectionRows, fmt: str, extra: str = "") -> Iterator[bytes]:
    """The connection list in `fmt`, as UTF-8 chunks of about CHUNK bytes (a row of many
    connections may be longer: the writer cuts it). `extra` goes before
    the document's last closing brace: json members after `connections` (starting with a
    comma), dot statements; the other formats end with the list and ignore it."""
    return chunked(_lines(rows, fmt, extra), CHUNK)
