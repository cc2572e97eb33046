"""The exposure section of `connlist --exposure`, in each format of the connection list.

- json: the `"exposure"` member of the ConnectivityList (`exposure_json_field`), one item
  per line: `{"ingress": [ITEM], "egress": [ITEM], "unprotected": [{"workload", "direction"}]}`
  with ITEM `{"workload", "peer", "all", "ports"}`;
- txt: netpol-analyzer's sections (`Exposure Analysis Result:`, `Egress Exposure:`,
  `Ingress Exposure:`, `Workloads not protected by network policies:`), peers written as
  `entire-cluster`, `first-last`, `ns/[pod with {app=x}]`, `[all namespaces]/[all pods]`;
- md and csv: the same sections as tables; dot: dashed edges to peer nodes.
"""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console
from rich.text import Text

from netpolicy.analysis.exposure import Exposure, ExposureItem
from netpolicy.semantics import Direction

SECTIONS: tuple[tuple[Direction, str, str], ...] = (
    ("egress", "Egress Exposure:", "=>"),
    ("ingress", "Ingress Exposure:", "<="),
)


def item_to_dict(item: ExposureItem) -> dict[str, object]:
    return {
        "workload": item.workload,
        "peer": item.peer.to_contract(),
        "all": item.ports.is_all(),
        "ports": item.ports.to_contract(),
    }


def exposure_to_dict(exposure: Exposure) -> dict[str, object]:
    return {
        "ingress": [item_to_dict(i) for i in exposure.ingress],
        "egress": [item_to_dict(i) for i in exposure.egress],
        "unprotected": [
            {"workload": u.workload, "direction": u.direction} for u in exposure.unprotected
        ],
    }


def exposure_json_field(exposure: Exposure) -> str:
    """`, "exposure": {...}`: the member that follows `connections` in the ConnectivityList."""

    def block(direction: Direction) -> str:
        items = exposure.items(direction)
        lines = ",\n".join(f"    {json.dumps(item_to_dict(i))}" for i in items)
        return f'"{direction}": [' + (f"\n{lines}\n  " if items else "") + "]"

    unprotected = ",\n".join(
        f"    {json.dumps({'workload': u.workload, 'direction': u.direction})}"
        for u in exposure.unprotected
    )
    return (
        ',\n "exposure": {\n  '
        + block("ingress")
        + ",\n  "
        + block("egress")
        + ',\n  "unprotected": ['
        + (f"\n{unprotected}\n  " if exposure.unprotected else "")
        + "]}"
    )


def render_exposure_txt(exposure: Exposure) -> str:
    """The sections netpol-analyzer prints after the connection list (a blank line first)."""
    lines = ["", "Exposure Analysis Result:"]
    for direction, header, arrow in SECTIONS:
        items = exposure.items(direction)
        if not items:
            continue
        width = max(len(i.workload) for i in items)
        lines.append(header)
        lines += [
            f"{i.workload:<{width}}  {arrow}  {i.peer.text()} : {i.ports.describe()}" for i in items
        ]
        lines.append("")
    if exposure.unprotected:
        lines.append("Workloads not protected by network policies:")
        lines += [
            f"{u.workload} is not protected on {u.direction.capitalize()}"
            for u in exposure.unprotected
        ]
    if len(lines) == 2:
        lines.append("No exposure beyond the input.")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_exposure_md(exposure: Exposure) -> str:
    lines = ["", "## Exposure Analysis Result:"]
    for direction, header, _arrow in SECTIONS:
        lines += [f"### {header}", "| workload | peer | conn |", "|-----|-----|------|"]
        lines += [
            f"| {i.workload} | {i.peer.text()} | {i.ports.describe()} |"
            for i in exposure.items(direction)
        ]
        lines.append("")
    lines += ["### Workloads not protected by network policies:", "| workload | direction |"]
    lines.append("|-----|-----|")
    lines += [f"| {u.workload} | {u.direction} |" for u in exposure.unprotected]
    return "\n".join(lines) + "\n"


def render_exposure_csv(exposure: Exposure) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Exposure Analysis Result:", "", ""])
    for direction, header, _arrow in SECTIONS:
        writer.writerow([header, "", ""])
        writer.writerow(["workload", "peer", "conn"])
        for i in exposure.items(direction):
            writer.writerow([i.workload, i.peer.text(), i.ports.describe()])
    writer.writerow(["Workloads not protected by network policies:", "", ""])
    writer.writerow(["workload", "direction", ""])
    for u in exposure.unprotected:
        writer.writerow([u.workload, u.direction, ""])
    return out.getvalue()


def exposure_dot_statements(exposure: Exposure) -> str:
    """Peer nodes (diamonds) and dashed exposure edges, to go inside the connlist digraph.
    Outside ranges are already edges of the connection list."""
    lines: list[str] = []
    nodes: dict[str, None] = {}
    for direction, _header, _arrow in SECTIONS:
        for i in exposure.items(direction):
            if i.peer.kind == "ipRange":
                continue
            peer = i.peer.text()
            nodes.setdefault(peer, None)
            src, dst = (i.workload, peer) if direction == "egress" else (peer, i.workload)
            lines.append(
                f'\t"{src}" -> "{dst}" [label="{i.ports.describe()}" color=darkorange2 '
                "fontcolor=darkgreen style=dashed]"
            )
    head = [f'\t"{n}" [label="{n}" shape=diamond color=red2 fontcolor=red2]' for n in nodes]
    return "".join(f"{line}\n" for line in head + lines)


def render_exposure(exposure: Exposure, fmt: str) -> str:
    """The exposure section for the text formats that end after the connection list."""
    renderers = {"txt": render_exposure_txt, "md": render_exposure_md, "csv": render_exposure_csv}
    return renderers[fmt](exposure)


def exposure_sections(exposure: Exposure, fmt: str) -> tuple[str, str]:
    """(inside, after): what goes inside the connection list document before its closing
    brace (json, dot), and what follows it (txt, md, csv)."""
    if fmt == "json":
        return exposure_json_field(exposure), ""
    if fmt == "dot":
        return exposure_dot_statements(exposure), ""
    return "", render_exposure(exposure, fmt)


__all__ = [
    "exposure_dot_statements",
    "exposure_json_field",
    "exposure_sections",
    "exposure_to_dict",
    "item_to_dict",
    "render_exposed_summary",
    "render_exposure",
    "render_exposure_csv",
    "render_exposure_md",
    "render_exposure_txt",
]


EXPOSED_LIMIT = 10
"""Workloads listed in the `analyze` summary's exposure section."""


def render_exposed_summary(console: Console, exposure: Exposure) -> None:
    """`analyze`'s short section: the workloads exposed to the entire cluster or to outside
    addresses, per direction (the ports: `connlist --exposure`)."""
    wide: dict[str, dict[str, list[str]]] = {}
    for direction, _header, _arrow in SECTIONS:
        for item in exposure.items(direction):
            if item.peer.kind in ("entireCluster", "ipRange"):
                what = "entire cluster" if item.peer.kind == "entireCluster" else "outside"
                kinds = wide.setdefault(item.workload, {}).setdefault(direction, [])
                if what not in kinds:
                    kinds.append(what)
    if not wide:
        return
    console.print()
    console.print("Exposed to the entire cluster or outside (netpolicy connlist --exposure)")
    names = sorted(wide)
    shown = names[:EXPOSED_LIMIT]
    width = max(len(n) for n in shown)
    console.print(Text(f"  {'':<{width}}  {'ingress':<25}egress"), no_wrap=True, crop=False)
    for name in shown:
        cells = [", ".join(sorted(wide[name].get(d, []))) or "-" for d in ("ingress", "egress")]
        line = Text(f"  {name:<{width}}  ")
        line.append(f"{cells[0]:<25}", style="red" if cells[0] != "-" else "dim")
        line.append(cells[1], style="red" if cells[1] != "-" else "dim")
        console.print(line, no_wrap=True, overflow="ignore", crop=False)
    if len(names) > EXPOSED_LIMIT:
        console.print(f"  ... {len(names) - EXPOSED_LIMIT} more")
