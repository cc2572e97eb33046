"""The adoption dashboard (`netpolicy coverage`) as rich text, JSON and GitHub markdown.

The JSON document (`-o json`), keys in camelCase, every count a number of workloads:

    {"apiVersion": "netpolicy/v1", "kind": "CoverageReport",
     "namespaces": [                       # every namespace, sorted by name
       {"namespace": "shop",
        "policies": 5,                     # NetworkPolicies in it
        "workloads": 3,                    # counted workloads (host network left out)
        "hostNetworkWorkloads": 0,         # left out: no policy can isolate them
        "isolated": {"ingress": 3, "egress": 1, "both": 1, "neither": 0},
        "percent": {"ingress": 100.0, "egress": 33.3, "both": 33.3, "neither": 0.0},
        "step": {"id": "ingress-allows", "label": "ingress allows in place", "index": 2},
        "nextStep": {"id": "egress-with-dns", "label": "egress with DNS", "index": 3,
                     "blocking": [{"workload": "shop/cart[Deployment]", "reason": "egressOpen",
                                   "message": "not isolated for egress"}]}}],
     "totals": {"namespaces": 4, "workloads": 7, "hostNetworkWorkloads": 0,
                "isolated": {...}, "percent": {...},
                "steps": {"no-workloads": 0, "no-policies": 2, ...}},   # namespaces per step
     "next": [                             # every exposed workload (--top N: the first N)
       {"workload": "default/debug", "namespace": "default", "name": "debug", "kind": "Pod",
        "pods": 1,
        "reachingWorkloads": 5,            # other workloads that may connect to it
        "fromEveryPod": false,             # every other pod of the cluster may connect
        "fromOutside": {"ranges": ["0.0.0.0-255.255.255.255"], "all": true,
                        "ports": [{"protocol": "TCP", "from": 1, "to": 65535}, ...]},
        "isolated": {"ingress": false, "egress": false}}]}

- `isolated.ingress`/`egress` include `both`; `neither` = workloads isolated in no direction.
  `percent` values are rounded to one decimal, null when a namespace has no workloads.
- `step.id` is one of `no-workloads`, `no-policies`, `ingress-default-deny`, `ingress-allows`,
  `egress-with-dns` (`netpolicy.analysis.coverage` defines each); `step.index` is the position
  on the adoption path (null for `no-workloads`). `nextStep` is null at the last step and for
  `no-workloads`. `blocking[].reason` is one of `ingressOpen`, `defaultDenyOnly`, `egressOpen`,
  `dnsBlocked` (then also `"protocols": ["UDP", "TCP"]`), `guardrailsOnly` (isolated for
  ingress only by cluster-wide guardrails). A workload that only guardrails isolate in some
  direction carries `"guardrailsOnly": ["ingress", ...]`.
- `fromOutside` is null when no outside address may connect; `ranges` are `first-last` as in
  the ConnectivityList contract (the pieces into which the input's ipBlocks cut the address
  space, merged), `ports` as there too; `all` is true when every port of TCP, UDP and SCTP is.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from netpolicy.analysis.coverage import (
    ALL_STEPS,
    STEPS,
    Blocker,
    Coverage,
    IsolationCounts,
    NamespaceCoverage,
    Step,
    WorkloadCoverage,
)
from netpolicy.render import formats
from netpolicy.semantics import ALL_ADDRESSES, IntervalSet, format_range
from netpolicy.semantics.addresses import IPV4, V6_OFFSET

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

FORMATS = formats.COVERAGE
TOP = formats.COVERAGE_TOP
"""How many "do next" workloads text and markdown show unless told otherwise."""
RANGES_SHOWN = 3
BLOCKERS_SHOWN = 10
"""Per namespace, how many blocking workloads markdown lists (JSON has them all)."""

# --- plain data -----------------------------------------------------------------------------


def _percent(counts: IsolationCounts) -> dict[str, float | None]:
    def one(count: int) -> float | None:
        value = counts.percent(count)
        return None if value is None else round(value, 1)

    return {
        "ingress": one(counts.ingress),
        "egress": one(counts.egress),
        "both": one(counts.both),
        "neither": one(counts.neither),
    }


def _isolated(counts: IsolationCounts) -> dict[str, int]:
    return {
        "ingress": counts.ingress,
        "egress": counts.egress,
        "both": counts.both,
        "neither": counts.neither,
    }


def _step(step: Step) -> dict[str, object]:
    return {"id": step.id, "label": step.label, "index": step.index}


def _blocker(b: Blocker) -> dict[str, object]:
    out: dict[str, object] = {"workload": b.workload, "reason": b.reason, "message": b.message}
    if b.protocols:
        out["protocols"] = list(b.protocols)
    return out


def namespace_to_dict(row: NamespaceCoverage) -> dict[str, object]:
    next_step: dict[str, object] | None = None
    if row.next_step is not None:
        next_step = {**_step(row.next_step), "blocking": [_blocker(b) for b in row.blocking]}
    return {
        "namespace": row.namespace,
        "policies": row.policies,
        "workloads": row.counts.workloads,
        "hostNetworkWorkloads": row.host_network,
        "isolated": _isolated(row.counts),
        "percent": _percent(row.counts),
        "step": _step(row.step),
        "nextStep": next_step,
    }


def workload_to_dict(w: WorkloadCoverage) -> dict[str, object]:
    outside: dict[str, object] | None = None
    if not w.outside.is_empty():
        outside = {
            "ranges": [format_range(lo, hi) for lo, hi in w.outside],
            "all": w.outside_ports.is_all(),
            "ports": w.outside_ports.to_contract(),
        }
    return {
        "workload": w.name,
        "namespace": w.namespace,
        "name": w.workload,
        "kind": w.kind,
        "pods": w.pods,
        "reachingWorkloads": w.reaching,
        "fromEveryPod": w.from_every_pod,
        "fromOutside": outside,
        "isolated": {"ingress": w.isolated_ingress, "egress": w.isolated_egress},
        # only with cluster-wide guardrails: plain inputs keep their bytes
        **({"guardrailsOnly": list(w.guardrails_only)} if w.guardrails_only else {}),
    }


def totals_to_dict(cov: Coverage) -> dict[str, object]:
    t = cov.totals
    return {
        "namespaces": t.namespaces,
        "workloads": t.counts.workloads,
        "hostNetworkWorkloads": t.host_network,
        "isolated": _isolated(t.counts),
        "percent": _percent(t.counts),
        "steps": dict(t.steps),
    }


def coverage_to_dict(cov: Coverage, top: int | None = None) -> dict[str, object]:
    """The `CoverageReport` document; `top` keeps only the first "next" workloads."""
    return {
        "apiVersion": "netpolicy/v1",
        "kind": "CoverageReport",
        "namespaces": [namespace_to_dict(r) for r in cov.namespaces],
        "totals": totals_to_dict(cov),
        "next": [workload_to_dict(w) for w in cov.next[:top]],
    }


def coverage_json_chunks(cov: Coverage, top: int | None = None) -> Iterator[str]:
    """`coverage_to_dict` as JSON, one namespace or workload per line (and per chunk)."""
    yield '{"apiVersion": "netpolicy/v1", "kind": "CoverageReport", "namespaces": ['
    yield from _items(namespace_to_dict(r) for r in cov.namespaces)
    yield f'],\n "totals": {json.dumps(totals_to_dict(cov))},\n "next": ['
    yield from _items(workload_to_dict(w) for w in cov.next[:top])
    yield "]}\n"


def _items(items: Iterator[dict[str, object]]) -> Iterator[str]:
    first = True
    for item in items:
        yield ("\n  " if first else ",\n  ") + json.dumps(item)
        first = False


def render_coverage_json(cov: Coverage, top: int | None = None) -> str:
    return "".join(coverage_json_chunks(cov, top))


# --- shared wording ---------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _pct(counts: IsolationCounts, count: int) -> str:
    """`71%`; never `0%` for some nor `100%` for not all of them (`<1%`, `>99%`)."""
    value = counts.percent(count)
    if value is None:
        return "—"
    if count > 0 and value < 0.5:
        return "<1%"
    if count < counts.workloads and value >= 99.5:
        return ">99%"
    return f"{value:.0f}%"


def _cell(counts: IsolationCounts, count: int) -> str:
    return f"{count} ({_pct(counts, count)})" if counts.workloads else "—"


def address_text(addresses: IntervalSet) -> str:
    """`any address`, or the ranges as CIDRs where exact (`first-last` otherwise)."""
    if addresses in (IPV4, ALL_ADDRESSES):
        return "any address"
    parts = [_range_text(lo, hi) for lo, hi in addresses]
    if len(parts) > RANGES_SHOWN:
        parts = [*parts[:RANGES_SHOWN], f"+{len(parts) - RANGES_SHOWN} more"]
    return ", ".join(parts)


def _range_text(lo: int, hi: int) -> str:
    """One CIDR when the range is exactly one, else `first-last`."""
    nets: list[ipaddress.IPv4Network] | list[ipaddress.IPv6Network]
    if hi < V6_OFFSET:
        nets = list(
            ipaddress.summarize_address_range(ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi))
        )
    else:
        nets = list(
            ipaddress.summarize_address_range(
                ipaddress.IPv6Address(lo - V6_OFFSET), ipaddress.IPv6Address(hi - V6_OFFSET)
            )
        )
    return str(nets[0]) if len(nets) == 1 else format_range(lo, hi)


def why_text(w: WorkloadCoverage) -> str:
    parts = []
    if w.from_every_pod:
        parts.append("every pod")
    if not w.outside.is_empty():
        ports = "all ports" if w.outside_ports.is_all() else w.outside_ports.describe()
        parts.append(f"outside: {address_text(w.outside)} ({ports})")
    return "; ".join(parts)


def isolation_text(w: WorkloadCoverage) -> str:
    if w.isolated_ingress and w.isolated_egress:
        return "both"
    if w.isolated_ingress:
        return "ingress"
    if w.isolated_egress:
        return "egress"
    return "neither"


def step_text(row: NamespaceCoverage) -> str:
    """The step's label; at the start, whether the namespace has policies at all."""
    if row.step.index == 0 and row.policies:
        return "has policies, some ingress open"
    return row.step.label


def next_text(row: NamespaceCoverage) -> str:
    if row.next_step is None:
        return "done" if row.step.index is not None else ""
    return f"{row.next_step.label}: {_plural(len(row.blocking), 'workload')} to go"


def headline(cov: Coverage) -> str:
    t = cov.totals.counts
    host = cov.totals.host_network
    tail = f" · {host} host-network left out" if host else ""
    return (
        f"{_plural(t.workloads, 'workload')} in {_plural(cov.totals.namespaces, 'namespace')}: "
        f"{t.ingress} isolated for ingress ({_pct(t, t.ingress)}), "
        f"{t.egress} for egress ({_pct(t, t.egress)}), {t.both} for both ({_pct(t, t.both)}), "
        f"{t.neither} for neither ({_pct(t, t.neither)}){tail}"
    )


def _steps_line(cov: Coverage) -> str:
    parts = [
        f"{cov.totals.steps[s.id]} at {s.label}"
        for s in ALL_STEPS
        if cov.totals.steps.get(s.id) and s.index is not None
    ]
    return "Namespaces per step: " + (" · ".join(parts) if parts else "none")


# --- text (rich) ------------------------------------------------------------------------------


def _ratio_style(counts: IsolationCounts, count: int, good_when_full: bool = True) -> str:
    if not counts.workloads:
        return "dim"
    full, empty = count == counts.workloads, count == 0
    if not good_when_full:
        full, empty = empty, full
    return "green" if full else "red" if empty else "yellow"


STEP_STYLES = {0: "red", 1: "yellow", 2: "cyan", 3: "green"}


def render_coverage_text(
    console: Console, cov: Coverage, description: str, demo: bool, top: int | None = TOP
) -> None:
    """The per-namespace table with a total row, then the "do next" list."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    hint = " (give files, a directory or - for stdin for yours)" if demo else ""
    console.print(f"NetworkPolicy coverage of {description}{hint}")
    console.print()
    console.print(headline(cov))
    console.print()
    rows = [r for r in cov.namespaces if r.counts.workloads]
    empty = [r.namespace for r in cov.namespaces if not r.counts.workloads]
    if rows:
        t = cov.totals.counts
        table = Table(box=box.SIMPLE_HEAD, show_footer=True, pad_edge=False, collapse_padding=True)
        table.add_column("namespace", footer="total", no_wrap=True)
        table.add_column("workloads", justify="right", footer=str(t.workloads), no_wrap=True)
        for name in ISOLATION:
            table.add_column(
                name, justify="right", footer=_short(t, getattr(t, name)), no_wrap=True
            )
        table.add_column("step", min_width=16)
        for r in rows:
            c = r.counts
            cells: list[Text] = [Text(r.namespace), Text(str(c.workloads))]
            for name in ISOLATION:
                count = getattr(c, name)
                style = _ratio_style(c, count, name != "neither")
                cells.append(Text(_short(c, count), style=style))
            index = r.step.index or 0
            step = Text(f"{index} {step_text(r)}", style=STEP_STYLES.get(index, ""))
            if r.next_step is not None:
                step.append(f" ({len(r.blocking)} to go)", style="default")
            cells.append(step)
            table.add_row(*cells)
        _print_wide(console, table)
    if empty:
        console.print(Text(f"No workloads: {', '.join(empty)}", style="dim"))
    console.print("Steps: " + " → ".join(f"{s.index} {s.label}" for s in STEPS), style="dim")
    console.print(_steps_line(cov))
    console.print()
    _render_next(console, cov, top)


ISOLATION = ("ingress", "egress", "both", "neither")


def _print_wide(console: Console, table: Table) -> None:
    """A terminal wraps the table to its width; a file or pipe gets it whole, unwrapped."""
    from rich.measure import Measurement

    if console.is_terminal:
        console.print(table)
        return
    wide = console.options.update_width(1 << 16)
    needed = Measurement.get(console, wide, table).maximum
    saved = console.width
    console.width = max(saved, needed)
    try:
        console.print(table)
    finally:
        console.width = saved


def _short(counts: IsolationCounts, count: int) -> str:
    """`3 100%`: a count and its share, narrow enough for an 80-column table."""
    return f"{count} {_pct(counts, count):>4}" if counts.workloads else "—"


def _render_next(console: Console, cov: Coverage, top: int | None) -> None:
    from rich.text import Text

    if not cov.next:
        console.print(
            Text("Do next: nothing is reachable from every pod or from outside", style="green")
        )
        return
    console.print("Do next: reachable from every pod or from outside, most reachable first")
    shown = cov.next[:top]
    width = len(str(len(shown)))
    for i, w in enumerate(shown, 1):
        line = Text(f"  {i:>{width}}. ")
        line.append(w.name, style="bold")
        line.append(f"  reached by {_plural(w.reaching, 'workload')} · ")
        isolated = ISOLATED_TEXT[isolation_text(w)]
        line.append(isolated, style="red" if isolated == "not isolated" else "yellow")
        console.print(line)
        pad = " " * (width + 4)
        if w.from_every_pod:
            console.print(Text(f"{pad}from every pod of the cluster", style="red"))
        if not w.outside.is_empty():
            ports = "all ports" if w.outside_ports.is_all() else w.outside_ports.describe()
            console.print(
                Text(f"{pad}from outside: {address_text(w.outside)} ({ports})", style="yellow")
            )
    if len(cov.next) > len(shown):
        console.print(
            Text(
                f"  ... {len(cov.next) - len(shown)} more (--top 0 or -o json for all)", style="dim"
            )
        )


ISOLATED_TEXT = {
    "both": "isolated both ways",
    "ingress": "isolated for ingress only",
    "egress": "isolated for egress only",
    "neither": "not isolated",
}


# --- markdown ---------------------------------------------------------------------------------


def render_coverage_md(cov: Coverage, top: int | None = TOP) -> str:
    """GitHub-flavoured markdown for a pull-request comment: tables, blockers folded away."""
    t = cov.totals.counts
    lines = ["## NetworkPolicy coverage", "", headline(cov), ""]
    rows = [r for r in cov.namespaces if r.counts.workloads]
    if rows:
        lines += [
            "| namespace | workloads | ingress | egress | both | neither | step | next |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        for r in rows:
            c = r.counts
            lines.append(
                f"| {r.namespace} | {c.workloads} | {_cell(c, c.ingress)} | {_cell(c, c.egress)} "
                f"| {_cell(c, c.both)} | {_cell(c, c.neither)} | {step_text(r)} "
                f"| {next_text(r)} |"
            )
        lines.append(
            f"| **total** | **{t.workloads}** | **{_cell(t, t.ingress)}** "
            f"| **{_cell(t, t.egress)}** | **{_cell(t, t.both)}** | **{_cell(t, t.neither)}** "
            "| | |"
        )
        lines.append("")
    empty = [r.namespace for r in cov.namespaces if not r.counts.workloads]
    if empty:
        lines += [f"No workloads: {', '.join(empty)}", ""]
    lines += [_steps_line(cov), "", "### Do next", ""]
    if not cov.next:
        lines.append("Nothing is reachable from every pod or from outside.")
    else:
        shown = cov.next[:top]
        lines += [
            "Reachable from every pod or from outside, most reachable first.",
            "",
            "| # | workload | reached by | reachable from | isolated |",
            "| ---: | --- | ---: | --- | --- |",
        ]
        lines += [
            f"| {i} | `{w.name}` | {_plural(w.reaching, 'workload')} | {why_text(w)} "
            f"| {isolation_text(w)} |"
            for i, w in enumerate(shown, 1)
        ]
        if len(cov.next) > len(shown):
            lines += ["", f"… {len(cov.next) - len(shown)} more (`-o json` for all)."]
    blocked = [r for r in cov.namespaces if r.blocking]
    if blocked:
        lines += [
            "",
            "<details><summary>What keeps each namespace from its next step</summary>",
            "",
        ]
        for r in blocked:
            assert r.next_step is not None
            lines.append(f"- **{r.namespace}** → {r.next_step.label}:")
            lines += [f"  - `{b.workload}`: {b.message}" for b in r.blocking[:BLOCKERS_SHOWN]]
            if len(r.blocking) > BLOCKERS_SHOWN:
                lines.append(f"  - … {len(r.blocking) - BLOCKERS_SHOWN} more")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
