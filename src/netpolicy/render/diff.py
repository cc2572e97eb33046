"""The connectivity diff in the formats of the output contract: json, txt, csv, md.

`diff_chunks` streams any number of changes from `ConnectivityDiff` as text chunks of about
`CHUNK` characters; txt and md open with the summary people act on (computed by one earlier
pass over the rows, `ConnectivityDiff.summary`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from netpolicy.analysis.diff import ConnectivityDiff, DiffSummary, change_kind
from netpolicy.render import formats
from netpolicy.render.chunks import chunked
from netpolicy.render.connlist import CHUNK
from netpolicy.semantics import ConnectionSet

FORMATS = formats.DIFF
SHOWN = 10
"""Endpoints listed per section of the summary (the rest are counted)."""


def _ports(conns: ConnectionSet) -> str:
    """The contract's `ports` list, as connlist writes it."""
    return json.dumps(conns.to_contract())


def _csv_field(text: str) -> str:
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


class _Texts:
    """Text of each port-set id, made once, as ids are handed out."""

    def __init__(self, diff: ConnectivityDiff, make: Callable[[ConnectionSet], str]) -> None:
        self.diff, self.make = diff, make
        self.texts: list[str] = []

    def __getitem__(self, i: int) -> str:
        texts = self.texts
        while len(texts) <= i:
            texts.append(self.make(self.diff.port_sets[len(texts)]))
        return texts[i]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _counts(summary: DiffSummary) -> str:
    if not summary.total:
        return "no change in allowed connections"
    text = (
        f"{_plural(summary.total, 'change')} ({summary.added} added, {summary.removed} removed, "
        f"{summary.changed} changed)"
    )
    if summary.losing:
        verb = "loses" if summary.losing == 1 else "lose"
        text += f"; {_plural(summary.losing, 'pair')} {verb} previously allowed ports"
    return text


def summary_lines(summary: DiffSummary) -> Iterator[tuple[int, str]]:
    """The summary's sections as (depth, line): 0 a section, 1 an endpoint, 2 an example."""
    for direction in ("ingress", "egress"):
        items = [i for i in summary.isolated if i.direction == direction]
        if items:
            yield 0, f"Become isolated for {direction} ({len(items)}):"
            towards = "from" if direction == "ingress" else "to"
            for item in items[:SHOWN]:
                if not item.losing:
                    yield 1, f"{item.endpoint}: loses no traffic (nothing was allowed)"
                    continue
                yield (
                    1,
                    f"{item.endpoint}: loses traffic {towards} "
                    f"{_plural(item.losing, 'peer')} ({item.cut} entirely)",
                )
                for lost in item.examples:
                    src, dst = (
                        (lost.peer, item.endpoint)
                        if direction == "ingress"
                        else (item.endpoint, lost.peer)
                    )
                    yield (
                        2,
                        f"e.g. {src} => {dst} : {lost.before.describe()} -> "
                        f"{lost.after.describe()}",
                    )
            if len(items) > SHOWN:
                yield 1, f"... and {len(items) - SHOWN} more"
    for direction in ("ingress", "egress"):
        opened = [name for name, d in summary.opened if d == direction]
        if opened:
            shown = ", ".join(opened[:SHOWN])
            more = f" and {len(opened) - SHOWN} more" if len(opened) > SHOWN else ""
            yield 0, f"No longer isolated for {direction} ({len(opened)}): {shown}{more}"
    if summary.guardrails:
        yield 0, f"Guardrails changed ({len(summary.guardrails)}):"
        for change in summary.guardrails[:SHOWN]:
            yield 1, change.describe()
        if len(summary.guardrails) > SHOWN:
            yield 1, f"... and {len(summary.guardrails) - SHOWN} more"
    if summary.exposure:
        count = _plural(len(summary.exposure), "destination")
        yield 0, f"New exposure ({count} more sources reach):"
        for e in summary.exposure[:SHOWN]:
            parts = []
            if e.sources:
                what = "pod or workload" if e.sources == 1 else "pods or workloads"
                parts.append(f"{e.sources} {what}")
            if e.outside:
                parts.append(_plural(e.outside, "outside range"))
            yield 1, f"{e.endpoint}: newly reachable from {' and '.join(parts)}"
        if len(summary.exposure) > SHOWN:
            yield 1, f"... and {len(summary.exposure) - SHOWN} more"


def _txt(diff: ConnectivityDiff, summary: DiffSummary, title: str | None) -> Iterator[str]:
    if title:
        yield f"{title}\n"
    yield f"Connectivity diff: {_counts(summary)}\n"
    lines = list(summary_lines(summary))
    if lines:
        yield "\n" + "".join(f"{'  ' * depth}{line}\n" for depth, line in lines)
    if not summary.total:
        return
    yield "\nChanges (src => dst : change before -> after)\n"
    names = diff.names
    described = _Texts(diff, ConnectionSet.describe)
    for src, dsts, was, now in diff:
        head = f"{names[src]} => "
        yield "".join(
            f"{head}{names[d]} : {change_kind(b, a)} "
            + (
                described[a]
                if b == 0
                else described[b]
                if a == 0
                else f"{described[b]} -> {described[a]}"
            )
            + "\n"
            for d, b, a in zip(dsts.tolist(), was.tolist(), now.tolist(), strict=True)
        )


def _md(diff: ConnectivityDiff, summary: DiffSummary, title: str | None) -> Iterator[str]:
    yield f"### Connectivity diff{f': {_md_cell(title)}' if title else ''}\n\n"
    yield f"{_counts(summary).capitalize()}.\n"
    for depth, line in summary_lines(summary):
        text = _md_cell(line)
        yield f"\n**{text}**\n" if depth == 0 else f"{'  ' * (depth - 1)}- {text}\n"
    if not summary.total:
        return
    yield "\n| src | dst | change | before | after |\n|-----|-----|--------|--------|-------|\n"
    names = [_md_cell(n) for n in diff.names]
    described = _Texts(diff, lambda c: "" if c.is_empty() else _md_cell(c.describe()))
    for src, dsts, was, now in diff:
        head = f"| {names[src]} | "
        yield "".join(
            f"{head}{names[d]} | {change_kind(b, a)} | {described[b]} | {described[a]} |\n"
            for d, b, a in zip(dsts.tolist(), was.tolist(), now.tolist(), strict=True)
        )


def _json(diff: ConnectivityDiff) -> Iterator[str]:
    quoted = [json.dumps(n) for n in diff.names]
    ports = _Texts(diff, _ports)
    yield '{"apiVersion": "netpolicy/v1", "kind": "ConnectivityDiff", "changes": [\n'
    sep = ""
    for src, dsts, was, now in diff:
        head = f'    {{"src": {quoted[src]}, "dst": '
        yield sep + ",\n".join(
            f'{head}{quoted[d]}, "change": "{change_kind(b, a)}", '
            f'"before": {ports[b]}, "after": {ports[a]}}}'
            for d, b, a in zip(dsts.tolist(), was.tolist(), now.tolist(), strict=True)
        )
        sep = ",\n"
    yield ("\n" if sep else "") + "]"
    if diff.guardrails:
        # only when a cluster-wide policy changed: plain inputs keep their bytes
        yield (
            ', "guardrails": [\n'
            + ",\n".join(
                "    "
                + json.dumps(
                    {
                        "policy": g.policy,
                        "change": g.change,
                        "tier": g.tier,
                        "priority": g.priority,
                        "parts": list(g.parts),
                    }
                )
                for g in diff.guardrails
            )
            + "\n]"
        )
    yield "}\n"


def _csv(diff: ConnectivityDiff) -> Iterator[str]:
    fields = [_csv_field(n) for n in diff.names]
    described = _Texts(diff, lambda c: "" if c.is_empty() else _csv_field(c.describe()))
    yield "src,dst,change,before,after\n"
    for src, dsts, was, now in diff:
        head = f"{fields[src]},"
        yield "".join(
            f"{head}{fields[d]},{change_kind(b, a)},{described[b]},{described[a]}\n"
            for d, b, a in zip(dsts.tolist(), was.tolist(), now.tolist(), strict=True)
        )


def diff_chunks(
    diff: ConnectivityDiff,
    fmt: str,
    summary: DiffSummary | None = None,
    title: str | None = None,
) -> Iterator[str]:
    """The diff in `fmt` as chunks of about CHUNK characters. txt and md need the `summary`
    (their first lines); json and csv are the changes alone."""
    if fmt in ("txt", "md"):
        if summary is None:
            raise ValueError(f"the {fmt} view opens with the summary: pass it")
        lines = _txt(diff, summary, title) if fmt == "txt" else _md(diff, summary, title)
    elif fmt == "json":
        lines = _json(diff)
    elif fmt == "csv":
        lines = _csv(diff)
    else:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    return chunked(lines, CHUNK)
