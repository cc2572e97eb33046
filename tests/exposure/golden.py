"""netpol-analyzer's exposure goldens, read into comparable values, and the comparison.

A golden line `W <= PEER : CONN` (ingress) or `W => PEER : CONN` (egress) becomes
(direction, workload, peer key) -> ports. Peer keys are the same for both sides:
`("entireCluster",)`, `("ipRange",)` (ranges compared as address sets, each side may cut the
address space differently), or `("pods", namespace selector, pod selector)` with selectors as
their requirement sets (`netpolicy.analysis.exposure.canonical`), a named namespace being the
selector on `kubernetes.io/metadata.name`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from netpolicy.analysis.exposure import Exposure, ExposurePorts, canonical
from netpolicy.model import NAMESPACE_NAME_LABEL, LabelSelector, Protocol, Requirement
from netpolicy.semantics import ConnectionSet, IntervalSet, cut_points, parse_range
from netpolicy.semantics.addresses import ALL_ADDRESSES

EXTERNAL = "[External]"
ENTIRE = ("entireCluster",)
IP = ("ipRange",)

Key = tuple[object, ...]
Items = dict[tuple[str, str, Key], ExposurePorts]  # (direction, workload, peer key) -> ports
Ranges = dict[tuple[str, str], list[tuple[IntervalSet, ExposurePorts]]]


@dataclass
class Golden:
    """One golden's exposure: items, outside ranges per (direction, workload), unprotected
    workloads (None when the format does not say), and the file read."""

    items: Items = field(default_factory=dict)
    ranges: Ranges = field(default_factory=dict)
    unprotected: set[tuple[str, str]] | None = None
    source: str = ""

    def workloads(self) -> set[str]:
        out = {w for _, w, _ in self.items} | {w for _, w in self.ranges}
        return out | {w for w, _ in self.unprotected or ()}


# --- ports -----------------------------------------------------------------------------------

_PROTO = re.compile(r"(TCP|UDP|SCTP) ")


def parse_ports(text: str) -> ExposurePorts:
    """`All Connections`, `TCP 8000,8090`, `TCP http,local-dns`, `SCTP 1-65535,TCP 1-9089`."""
    text = text.strip()
    if text == "All Connections":
        return ExposurePorts(ConnectionSet.all())
    if text in ("No Connections", ""):
        return ExposurePorts()
    numbers: dict[Protocol, list[tuple[int, int]]] = {}
    names: set[tuple[Protocol | Literal[""], str]] = set()
    current: Protocol | None = None
    for token in text.split(","):
        token = token.strip()
        m = _PROTO.match(token)
        if m:
            current = m.group(1)  # type: ignore[assignment]
            token = token[m.end() :]
        lo, _, hi = token.partition("-")
        if current is None:
            # a cluster-wide named port has no protocol (Go prints ` local-port`)
            assert not lo.isdigit(), text
            names.add(("", token))
        elif lo.isdigit():
            numbers.setdefault(current, []).append((int(lo), int(hi or lo)))
        else:
            names.add((current, token))
    return ExposurePorts(
        ConnectionSet({p: IntervalSet(r) for p, r in numbers.items()}), frozenset(names)
    )


# --- peers -----------------------------------------------------------------------------------

_EXPRESSION = re.compile(r"\{Key:([^,]*),Operator:(\w+),Values:\[([^\]]*)\],\}")


def parse_selector(body: str) -> LabelSelector:
    """`k=v,{Key:app,Operator:In,Values:[a b],}` (Go's rendering) as a LabelSelector."""
    labels: list[tuple[str, str]] = []
    expressions: list[Requirement] = []
    i = 0
    while i < len(body):
        if body.startswith("{Key:", i):
            m = _EXPRESSION.match(body, i)
            assert m, body
            values = tuple(m.group(3).split()) if m.group(3) else ()
            expressions.append(Requirement(m.group(1), m.group(2), values))  # type: ignore[arg-type]
            i = m.end()
        else:
            end = body.find(",", i)
            end = len(body) if end < 0 else end
            key, _, value = body[i:end].partition("=")
            labels.append((key, value))
            i = end
        if i < len(body) and body[i] == ",":
            i += 1
    return LabelSelector(tuple(sorted(labels)), tuple(expressions))


def _part(text: str, what: str) -> LabelSelector | str:
    """`[all namespaces]`/`[all pods]` -> everything; `[namespace with {..}]` -> selector;
    a bare namespace name -> that name."""
    if text in ("[all namespaces]", "[all pods]"):
        return LabelSelector()
    prefix = f"[{what} with {{"
    if text.startswith(prefix) and text.endswith("}]"):
        return parse_selector(text[len(prefix) : -2])
    return text


def peer_key(text: str) -> Key | None:
    """The key of a golden peer (None for an outside range)."""
    text = text.strip()
    if text == "entire-cluster":
        return ENTIRE
    if text.endswith(EXTERNAL):
        return None
    if text.startswith("["):  # a bracketed namespace part may hold `/` (label keys)
        ns_text, _, pod_text = text.partition("]/")
        ns_text += "]"
    else:
        ns_text, _, pod_text = text.partition("/")
    ns = _part(ns_text, "namespace")
    pod = _part(pod_text, "pod")
    assert isinstance(pod, LabelSelector), text
    ns_sel = (
        LabelSelector(match_labels=((NAMESPACE_NAME_LABEL, ns),)) if isinstance(ns, str) else ns
    )
    return ("pods", canonical(ns_sel), canonical(pod))


# --- reading the formats ---------------------------------------------------------------------


def _add(golden: Golden, direction: str, workload: str, peer: str, conn: str) -> None:
    workload, peer = workload.strip(), peer.strip()
    ports = parse_ports(conn)
    key = peer_key(peer)
    if key is None:
        rng = parse_range(peer[: -len(EXTERNAL)])
        golden.ranges.setdefault((direction, workload), []).append((rng, ports))
    else:
        golden.items[(direction, workload, key)] = ports


def read_txt(golden: Golden, text: str) -> None:
    golden.unprotected = set()
    lines = text.splitlines()
    if "Exposure Analysis Result:" not in lines:
        return
    for line in lines[lines.index("Exposure Analysis Result:") + 1 :]:
        if " is not protected on " in line:
            w, _, d = line.partition(" is not protected on ")
            golden.unprotected.add((w.strip(), d.strip().lower()))
            continue
        for arrow, direction in (("\t<= \t", "ingress"), ("\t=> \t", "egress")):
            if arrow in line:
                w, _, rest = line.partition(arrow)
                peer, _, conn = rest.rpartition(" : ")
                _add(golden, direction, w, peer, conn)


def read_json(golden: Golden, text: str) -> None:
    data = json.loads(text).get("exposure_results") or {}
    for row in data.get("egress_exposure") or []:
        _add(golden, "egress", row["src"], row["dst"], row["conn"])
    for row in data.get("ingress_exposure") or []:
        _add(golden, "ingress", row["dst"], row["src"], row["conn"])


_DOT_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]*)"(.*)\]$')


def read_dot(golden: Golden, text: str) -> None:
    """Dashed edges are exposure; edges with outside ranges count for exposed workloads."""
    outside: list[tuple[str, str, str, str]] = []
    for line in text.splitlines():
        m = _DOT_EDGE.match(line)
        if not m:
            continue
        src, dst, conn, rest = m.groups()
        src_is_workload = src.endswith("]") and "/" in src and not src.endswith(EXTERNAL)
        direction = "egress" if src_is_workload else "ingress"
        workload, peer = (src, dst) if src_is_workload else (dst, src)
        if "style=dashed" in rest:
            _add(golden, direction, workload, _dot_peer(peer), conn)
        elif peer.endswith(EXTERNAL):
            outside.append((direction, workload, peer, conn))
    exposed = {w for _, w, _ in golden.items}
    for direction, workload, peer, conn in outside:
        if workload in exposed:
            _add(golden, direction, workload, peer, conn)


def _read_table(golden: Golden, rows: list[list[str]]) -> None:
    """md/csv: after the exposure header, egress rows are (workload, peer, conn) and ingress
    rows (workload, peer, conn) too (their header says `dst | src`)."""
    direction = None
    for cells in rows:
        first = cells[0].strip().lstrip("#").strip() if cells else ""
        if first in ("Egress Exposure:", "Ingress Exposure:"):
            direction = first.split()[0].lower()
        elif (
            direction
            and len(cells) >= 3
            and cells[0] not in ("src", "dst")
            and not cells[0].startswith("-")
        ):
            _add(golden, direction, cells[0], cells[1], cells[2])


def read_md(golden: Golden, text: str) -> None:
    rows = []
    for line in text.split("## Exposure Analysis Result:", 1)[-1].splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif line.strip():
            rows.append([line.strip()])
    _read_table(golden, rows)


def read_csv(golden: Golden, text: str) -> None:
    rows = list(csv.reader(io.StringIO(text)))
    marks = [i for i, r in enumerate(rows) if r and r[0] == "Exposure Analysis Result:"]
    _read_table(golden, rows[marks[0] + 1 :] if marks else [])


def _dot_peer(node: str) -> str:
    """A dot node of a representative peer (`all pods_in_namespace with {x=y}`) in the txt
    spelling (`[namespace with {x=y}]/[all pods]`)."""
    if node == "entire-cluster" or "_in_" not in node:
        return node
    pods, _, namespace = node.rpartition("_in_")
    if namespace == "all namespaces" or namespace.startswith("namespace with {"):
        namespace = f"[{namespace}]"
    return f"{namespace}/[{pods}]"


READERS = {"txt": read_txt, "json": read_json, "md": read_md, "csv": read_csv, "dot": read_dot}


def read_goldens(peer_suite: Path, entry: dict) -> list[Golden]:
    """The exposure of each of an entry's golden files (txt alone says who is unprotected)."""
    out = []
    for fmt, path in sorted(entry["expected"].items()):
        golden = Golden(source=path)
        READERS[fmt](golden, (peer_suite / path).read_text())
        out.append(golden)
    assert out, f"{entry['name']}: no golden"
    return out


# --- ours, in the same shape -----------------------------------------------------------------


def golden_of(exposure: Exposure) -> Golden:
    out = Golden(unprotected=set())
    for direction in ("ingress", "egress"):
        for item in exposure.items(direction):  # type: ignore[arg-type]
            w = item.workload if item.workload.endswith("]") else item.workload + "[Pod]"
            if item.peer.kind == "ipRange":
                assert item.peer.addresses is not None
                out.ranges.setdefault((direction, w), []).append((item.peer.addresses, item.ports))
            else:
                out.items[(direction, w, item.peer.key)] = item.ports
    assert out.unprotected is not None
    for u in exposure.unprotected:
        w = u.workload if u.workload.endswith("]") else u.workload + "[Pod]"
        out.unprotected.add((w, u.direction))
    return out


def only_direction(golden: Golden, direction: str) -> Golden:
    """The golden restricted to one direction (netpol-analyzer's `--focusdirection`)."""
    return Golden(
        {k: v for k, v in golden.items.items() if k[0] == direction},
        {k: v for k, v in golden.ranges.items() if k[0] == direction},
        None
        if golden.unprotected is None
        else {(w, d) for w, d in golden.unprotected if d == direction},
        golden.source,
    )


# --- comparison ------------------------------------------------------------------------------


def _lookup(ranges: list[tuple[IntervalSet, ExposurePorts]], atom: IntervalSet) -> ExposurePorts:
    for r, ports in ranges:
        if atom.is_subset(r):
            return ports
    return ExposurePorts()


def _text(key: Key) -> str:
    if key == ENTIRE:
        return "entire-cluster"
    _, ns, pod = key
    return f"ns{sorted(ns)}/pod{sorted(pod)}"  # type: ignore[call-overload]


def compare(ours: Golden, theirs: Golden) -> list[str]:
    """The differences, as readable lines (empty when the two agree).

    netpol-analyzer lists the outside ranges only of workloads it lists otherwise: ours of a
    workload absent from its output are not compared (the connection list has them).
    """
    out: list[str] = []
    for key in sorted(set(ours.items) | set(theirs.items), key=str):
        a, b = ours.items.get(key), theirs.items.get(key)
        if a != b:
            d, w, peer = key
            out.append(
                f"{d} {w} {_text(peer)}: ours {a.describe() if a else '-'} / "
                f"theirs {b.describe() if b else '-'}"
            )
    listed = theirs.workloads()
    for key in sorted(set(ours.ranges) | set(theirs.ranges)):
        if key[1] not in listed:
            continue
        a_r, b_r = ours.ranges.get(key, []), theirs.ranges.get(key, [])
        for atom in cut_points([r for r, _ in a_r] + [r for r, _ in b_r], ALL_ADDRESSES):
            a, b = _lookup(a_r, atom), _lookup(b_r, atom)
            if a != b:
                lo, hi = atom.ranges[0]
                out.append(
                    f"{key[0]} {key[1]} outside {lo}-{hi}: ours {a.describe()} / "
                    f"theirs {b.describe()}"
                )
                break
    if theirs.unprotected is not None:
        assert ours.unprotected is not None
        for w, d in sorted(ours.unprotected ^ theirs.unprotected):
            side = "ours" if (w, d) in ours.unprotected else "theirs"
            out.append(f"unprotected {w} {d}: only {side}")
    return out
