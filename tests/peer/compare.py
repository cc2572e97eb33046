"""Semantic comparison of connection lists with the netpol-analyzer goldens.

The same allowed connection set per pair of endpoints; outside ranges are compared as sets
of addresses (each side may cut the address space differently).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from netpolicy.analysis.connlist import Connection
from netpolicy.model import PROTOCOLS, Protocol
from netpolicy.semantics import ConnectionSet, IntervalSet, cut_points, parse_range
from netpolicy.semantics.addresses import ALL_ADDRESSES

EXTERNAL = "[External]"
_PROTO_ITEM = re.compile(r"(TCP|UDP|SCTP) ")

Table = dict[tuple[str, str], ConnectionSet]


def parse_conn(text: str) -> ConnectionSet:
    """`All Connections`, `No Connections` or `TCP 1-79,81-65535,UDP 53`."""
    text = text.strip()
    if text == "All Connections":
        return ConnectionSet.all()
    if text in ("No Connections", ""):
        return ConnectionSet.none()
    parts: dict[Protocol, list[tuple[int, int]]] = {}
    current: Protocol | None = None
    for token in text.split(","):
        token = token.strip()
        m = _PROTO_ITEM.match(token)
        if m:
            current = m.group(1)  # type: ignore[assignment]
            token = token[m.end() :]
        assert current in PROTOCOLS, text
        lo, _, hi = token.partition("-")
        parts.setdefault(current, []).append((int(lo), int(hi or lo)))
    return ConnectionSet({p: IntervalSet(r) for p, r in parts.items()})


def peer_name(name: str) -> str:
    """Our endpoint name in the peer's spelling: bare pods get `[Pod]`, ranges `[External]`."""
    if "/" not in name:
        return name + EXTERNAL
    return name if name.endswith("]") else name + "[Pod]"


def read_expected(peer_suite: Path, entry: dict) -> tuple[list[tuple[str, str, str | None]], str]:
    """(src, dst, conn) rows of the golden output (json preferred), and which file was read."""
    expected = entry["expected"]
    if "json" in expected:
        data = json.loads((peer_suite / expected["json"]).read_text())
        if isinstance(data, dict):  # exposure-shaped output
            data = data.get("connlist_results") or data.get("connlist_conn_focus_results") or []
        return [(r["src"], r["dst"], r.get("conn")) for r in data], expected["json"]
    rows: list[tuple[str, str, str | None]] = []
    for line in (peer_suite / expected["txt"]).read_text().splitlines():
        if " => " not in line or line.startswith("Permitted"):
            continue
        left, _, right = line.partition(" => ")
        dst, sep, conn = right.partition(" : ")
        rows.append((left.strip(), dst.strip(), conn if sep else None))
    return rows, expected["txt"]


def focus_conn_set(focus: str | None) -> ConnectionSet | None:
    if not focus:
        return None
    proto, _, port = focus.partition("-")
    return ConnectionSet.port(proto.upper(), int(port))  # type: ignore[arg-type]


@dataclass
class Outcome:
    ok: bool
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)

    def summary(self, limit: int = 4) -> str:
        parts = []
        for label, items in (
            ("missing", self.missing),
            ("extra", self.extra),
            ("differ", self.differ),
        ):
            if items:
                parts.append(f"{label} {len(items)}: " + "; ".join(items[:limit]))
        return " | ".join(parts)


def _workload_of(name: str) -> str:
    return name.split("[", 1)[0]


def _focused(name: str, focus: list[str]) -> bool:
    base = _workload_of(name)
    return any(base == f or base.split("/", 1)[-1] == f for f in focus)


def apply_focus(ours: Table, options: dict) -> Table:
    """netpol-analyzer's focus options, applied to a full connection table."""
    workloads = options.get("focus_workload") or []
    peers = options.get("focus_workload_peer") or []
    direction = options.get("focus_direction")
    conn = focus_conn_set(options.get("focus_conn"))
    out: Table = {}
    for (src, dst), conns in ours.items():
        if workloads:
            as_src = _focused(src, workloads) and direction in (None, "egress")
            as_dst = _focused(dst, workloads) and direction in (None, "ingress")
            if peers:
                as_src = as_src and _focused(dst, peers)
                as_dst = as_dst and _focused(src, peers)
            if not (as_src or as_dst):
                continue
        if conn is not None:
            if not conn.is_subset(conns):
                continue
            conns = conn
        out[(src, dst)] = conns
    return out


def _split(
    table: Table,
) -> tuple[Table, dict[tuple[str, str], list[tuple[IntervalSet, ConnectionSet]]]]:
    """Pairs of in-cluster endpoints, and per (endpoint, direction) the outside ranges."""
    inside: Table = {}
    outside: dict[tuple[str, str], list[tuple[IntervalSet, ConnectionSet]]] = {}
    for (src, dst), conns in table.items():
        if src.endswith(EXTERNAL):
            outside.setdefault((dst, "in"), []).append((parse_range(src[: -len(EXTERNAL)]), conns))
        elif dst.endswith(EXTERNAL):
            outside.setdefault((src, "out"), []).append((parse_range(dst[: -len(EXTERNAL)]), conns))
        else:
            inside[(src, dst)] = conns
    return inside, outside


def _lookup(ranges: list[tuple[IntervalSet, ConnectionSet]], atom: IntervalSet) -> ConnectionSet:
    for r, conns in ranges:
        if atom.is_subset(r):
            return conns
    return ConnectionSet.none()


def compare(ours: Table, theirs: Table, with_conns: bool = True) -> Outcome:
    out = Outcome(True)
    a_in, a_out = _split(ours)
    b_in, b_out = _split(theirs)
    for key in sorted(set(a_in) | set(b_in)):
        a, b = a_in.get(key), b_in.get(key)
        if a is None:
            out.missing.append(f"{key[0]} => {key[1]} : {b.describe() if b else ''}")
        elif b is None:
            out.extra.append(f"{key[0]} => {key[1]} : {a.describe()}")
        elif with_conns and a != b:
            out.differ.append(f"{key[0]} => {key[1]}: ours {a.describe()} / theirs {b.describe()}")
    for key in sorted(set(a_out) | set(b_out)):
        a_r, b_r = a_out.get(key, []), b_out.get(key, [])
        atoms = cut_points([r for r, _ in a_r] + [r for r, _ in b_r], ALL_ADDRESSES)
        for atom in atoms:
            a, b = _lookup(a_r, atom), _lookup(b_r, atom)
            if (a != b) if with_conns else (bool(a) != bool(b)):
                lo, hi = atom.ranges[0]
                out.differ.append(
                    f"{key[0]} {key[1]} outside {lo}-{hi}: "
                    f"ours {a.describe()} / theirs {b.describe()}"
                )
                break
    out.ok = not (out.missing or out.extra or out.differ)
    return out


def table_of(connections: list[Connection]) -> Table:
    return {(peer_name(c.src), peer_name(c.dst)): c.connections for c in connections}


def table_of_rows(rows: list[tuple[str, str, str | None]]) -> Table:
    return {(s, d): parse_conn(c) if c is not None else ConnectionSet.all() for s, d, c in rows}
