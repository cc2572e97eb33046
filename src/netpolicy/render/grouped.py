"""The grouped view (`connlist --grouped`) in json, txt, md and dot, streamed.

JSON contract:

    {"apiVersion": "netpolicy/v1", "kind": "GroupedConnectivityList",
     "groups": [{"id": 1, "namespaces": ["shop"], "selector": {"matchLabels": {...}},
                 "members": ["shop/frontend[Deployment]", ...], "count": 1, "pods": 3}],
     "connections": [{"src": 1, "dst": 2, "all": false, "ports": [...]}]}

A connection between groups stands for every (member of src, member of dst) pair, an
endpoint's traffic to itself left out: expanded, the grouped list is exactly the full one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from netpolicy.analysis.exposure import selector_to_contract
from netpolicy.analysis.grouped import Group, GroupedConnections
from netpolicy.render import formats
from netpolicy.render.chunks import chunked
from netpolicy.render.connlist import CHUNK, PortTexts, json_tail, row_texts
from netpolicy.semantics import ConnectionSet

GROUPED_FORMATS = formats.GROUPED


def group_label(group: Group, workloads: bool) -> str:
    """`ns1,ns2 / app=web (3 workloads, 12 pods)`, or `outside (2 ranges)`."""
    count = len(group.members)
    if not group.namespaces:
        return f"outside ({count} range{'s' if count != 1 else ''})"
    selector = str(group.selector) if group.selector is not None else "by name"
    plural = "s" if count != 1 else ""
    if workloads and group.pods != count:
        size = f"{count} member{plural}, {group.pods} pods"
    else:
        size = f"{count} {'member' if workloads else 'pod'}{plural}"
    return f"{','.join(group.namespaces)} / {selector} ({size})"


def group_to_dict(group: Group) -> dict[str, object]:
    return {
        "id": group.id,
        "namespaces": list(group.namespaces),
        "selector": None if group.selector is None else selector_to_contract(group.selector),
        "members": list(group.members),
        "count": len(group.members),
        "pods": group.pods,
    }


def grouped_chunks(grouped: GroupedConnections, fmt: str) -> Iterator[bytes]:
    """The grouped view in `fmt`, as UTF-8 chunks."""
    return chunked(_pieces(grouped, fmt), CHUNK)


def _pieces(grouped: GroupedConnections, fmt: str) -> Iterator[bytes]:
    groups = grouped.groups
    ids = [group.id for group in groups]
    if fmt == "json":
        yield b'{"apiVersion": "netpolicy/v1", "kind": "GroupedConnectivityList", "groups": [\n'
        yield ",\n".join(f"    {json.dumps(group_to_dict(g))}" for g in groups).encode()
        yield b'\n], "connections": [\n'
        tails = PortTexts(grouped, json_tail)
        empty = True
        for text in row_texts(
            grouped,
            len(groups),
            lambda s: f'    {{"src": {ids[s]}, "dst": ',
            lambda d, i: f"{ids[d]}{tails[i]}",
            ",\n",
            b",\n",
        ):
            yield text
            empty = False
        yield b"]}\n" if empty else b"\n]}\n"
        return
    described = PortTexts(grouped, ConnectionSet.describe)
    if fmt == "txt":
        yield _txt_groups(grouped).encode()
        yield b"\nConnections:\n"
        yield from row_texts(
            grouped,
            len(groups),
            lambda s: f"g{ids[s]} => ",
            lambda d, i: f"g{ids[d]} : {described[i]}\n",
        )
    elif fmt == "md":
        yield b"| group | namespaces | selector | members |\n|-----|-----|-----|-----|\n"
        for g in groups:
            selector = "" if g.selector is None else str(g.selector)
            line = f"| g{g.id} | {', '.join(g.namespaces)} | {selector} | {', '.join(g.members)} |"
            yield (line + "\n").encode()
        yield b"\n| src | dst | conn |\n|-----|-----|------|\n"
        yield from row_texts(
            grouped,
            len(groups),
            lambda s: f"| g{ids[s]} | ",
            lambda d, i: f"g{ids[d]} | {described[i]} |\n",
        )
    else:
        yield b"digraph {\n"
        for g in groups:
            label = group_label(g, grouped.workloads).replace('"', '\\"')
            shape = "box color=red2 fontcolor=red2" if not g.namespaces else "color=blue"
            yield f'\t"g{g.id}" [label="g{g.id}: {label}" {shape}]\n'.encode()
        yield from row_texts(
            grouped,
            len(groups),
            lambda s: f'\t"g{ids[s]}" -> "',
            lambda d, i: f'g{ids[d]}" [label="{described[i]}" color=gold2 fontcolor=darkgreen]\n',
        )
        yield b"}\n"


def _txt_groups(grouped: GroupedConnections) -> str:
    lines = [f"Groups ({len(grouped.groups)}):"]
    for g in grouped.groups:
        lines.append(f"g{g.id}  {group_label(g, grouped.workloads)}")
        lines += [f"    {name}" for name in g.members]
    return "\n".join(lines) + "\n"
