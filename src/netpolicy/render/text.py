"""Human views (rich) of the analysis, the explanation and the diagnostics."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from netpolicy.analysis.connlist import Connection
from netpolicy.analysis.summary import Summary
from netpolicy.model import Diagnostic
from netpolicy.semantics import Decision, Side, describe_chain

MATRIX_LIMIT = 6
LIST_LIMIT = 25
FINDINGS_LIMIT = 10


def render_diagnostics(console: Console, diagnostics: Iterable[Diagnostic]) -> None:
    styles = {"error": "bold red", "warning": "yellow", "info": "dim"}
    for d in diagnostics:
        console.print(Text(str(d), style=styles.get(d.severity, "")))


def _ratio(isolated: int, total: int) -> Text:
    if total == 0:
        return Text("no pods", style="dim")
    if isolated == total:
        return Text(f"{isolated}/{total} isolated", style="green")
    if isolated == 0:
        return Text(f"{isolated}/{total}  open to everything", style="red")
    return Text(f"{isolated}/{total} isolated", style="yellow")


def render_summary(console: Console, summary: Summary, description: str, demo: bool) -> None:
    c = summary.cluster
    if demo:
        console.print(
            f"Analyzing {description} (give files, a directory or - for stdin to analyze yours)"
        )
    else:
        console.print(f"Analyzing {description}")
    findings = summary.findings
    console.print()
    console.print(
        f"{len(c.namespaces)} namespaces · {summary.pods} pods in {summary.workloads} workloads · "
        f"{len(c.policies)} NetworkPolicies · {summary.connection_count} allowed connections"
    )
    console.print()
    width = max(max((len(r.namespace) for r in summary.isolation), default=0) + 2, 10)
    console.print(Text(f"{'Isolation':<{width + 2}}{'ingress':<25}egress"))
    for row in summary.isolation:
        line = Text(f"  {row.namespace:<{width}}")
        ingress = _ratio(row.ingress_isolated, row.pods)
        ingress.pad_right(25 - len(ingress))
        line.append_text(ingress)
        line.append_text(_ratio(row.egress_isolated, row.pods))
        console.print(line, no_wrap=True, overflow="ignore", crop=False)
    console.print()
    conns = summary.connections
    endpoints = sorted({x.src for x in conns} | {x.dst for x in conns})
    if summary.grouped is not None:
        hint = _grouped(console, summary)
    else:
        console.print("Allowed connections (by workload)")
        if 0 < len(endpoints) <= MATRIX_LIMIT:
            _matrix(console, summary, endpoints)
        else:
            _ranked(console, conns)
        hint = next(
            (x for x in conns if "/" in x.src and "/" in x.dst and not x.connections.is_all()),
            None,
        )
    if summary.exposure is not None:
        from netpolicy.render.exposure import render_exposed_summary

        render_exposed_summary(console, summary.exposure)
    if findings:
        console.print()
        console.print("Findings (netpolicy lint)")
        styles = {"error": "bold red", "warning": "yellow"}
        for f in findings[:FINDINGS_LIMIT]:
            console.print(
                Text(
                    f"  {f.source}: {f.severity} [{f.check}] {f.message}", style=styles[f.severity]
                )
            )
        if len(findings) > FINDINGS_LIMIT:
            console.print(f"  {len(findings) - FINDINGS_LIMIT} more: netpolicy lint")
    if hint is not None:
        proto, ports = hint.connections.items()[0]
        console.print()
        console.print(
            f"Next: netpolicy explain {hint.src} {hint.dst} --port {ports.ranges[0][0]}/{proto}"
        )


def _grouped(console: Console, summary: Summary) -> Connection | None:
    """The grouped view's precise connections that stand for the most pairs, then how many
    are open to everything; returns one precise connection between workloads (a hint)."""
    from netpolicy.render.grouped import group_label

    grouped, overview = summary.grouped, summary.overview
    assert grouped is not None and overview is not None
    groups = grouped.groups
    members = sum(len(g.members) for g in groups)
    console.print(
        f"Allowed connections, grouped: {len(groups)} groups of {members} workloads and ranges "
        "that the policies treat alike (netpolicy connlist --grouped for all)"
    )
    shown = overview.top
    labels = {
        g: f"g{groups[g].id} {group_label(groups[g], True)}" for s, d, _ in shown for g in (s, d)
    }
    src_width = max((len(labels[s]) for s, _, _ in shown), default=0)
    for s, d, conns in shown:
        line = Text(f"  {labels[s]:<{src_width}}  → {labels[d]}  ")
        line.append(conns.describe(), style="green")
        console.print(line, no_wrap=True, overflow="ignore", crop=False)
    if overview.precise > len(shown):
        console.print(f"  ... {overview.precise - len(shown)} more")
    if overview.open:
        console.print(
            Text(
                f"  + {overview.open} group pairs with every port allowed, from "
                f"{overview.open_sources} groups not isolated enough",
                style="red",
            )
        )
    for s, d, conns in shown:
        a, b = groups[s], groups[d]
        if a.namespaces and b.namespaces:
            first = a.members[0]
            other = next((m for m in b.members if m != first), None)
            if other is not None:
                return Connection(first, other, conns)
    return None


def _ranked(console: Console, conns: list[Connection]) -> None:
    """Precise allowances first (what policies opened), then who is still open to everything."""
    precise = [x for x in conns if not x.connections.is_all()]
    wide = [x for x in conns if x.connections.is_all()]
    shown = precise[:LIST_LIMIT]
    src_width = max((len(x.src) for x in shown), default=0)
    dst_width = max((len(x.dst) for x in shown), default=0)
    for x in shown:
        line = Text(f"  {x.src:<{src_width}}  → {x.dst:<{dst_width}}  ")
        line.append(x.connections.describe(), style="green")
        console.print(line, no_wrap=True, overflow="ignore", crop=False)
    if len(precise) > LIST_LIMIT:
        console.print(f"  ... {len(precise) - LIST_LIMIT} more")
    if wide:
        sources = sorted({x.src for x in wide})
        console.print(
            Text(
                f"  + {len(wide)} pairs with every port allowed, from {len(sources)} endpoints "
                "not isolated enough (netpolicy connlist for all)",
                style="red",
            )
        )


def _matrix(console: Console, summary: Summary, endpoints: list[str]) -> None:
    by_pair = {(x.src, x.dst): x.connections for x in summary.connections}
    sources = [e for e in endpoints if any(x.src == e for x in summary.connections)]
    targets = [e for e in endpoints if any(x.dst == e for x in summary.connections)]
    table = Table("from \\ to", *[_short(t) for t in targets], show_lines=False)
    for s in sources:
        cells = []
        for t in targets:
            conns = by_pair.get((s, t))
            if s == t:
                cells.append(Text("·", style="dim"))
            elif conns is None:
                cells.append(Text("-", style="dim"))
            elif conns.is_all():
                cells.append(Text("all", style="red"))
            else:
                cells.append(Text(conns.describe(), style="green"))
        table.add_row(_short(s), *cells)
    console.print(table)


def _short(name: str) -> str:
    return name.replace("[Deployment]", "[deploy]").replace("[StatefulSet]", "[sts]")


def _side_lines(side: Side, subject: str) -> list[str]:
    what = "egress of" if side.direction == "egress" else "ingress of"
    if side.chain:
        return _chain_lines(side, subject, what)
    if not side.applies:
        return [f"{what} {subject}: outside the cluster, no NetworkPolicy applies"]
    if not side.isolated:
        return [
            f"{what} {subject}: not isolated (no NetworkPolicy selects it for "
            f"{side.direction}), so everything is allowed"
        ]
    lines = [f"{what} {subject}: isolated by {', '.join(side.policies)}"]
    for m in side.matches:
        lines.append(
            f"  allowed by {m.rule_id} peer #{m.peer_index + 1} ({m.source}): "
            f"{m.connections.describe()}"
        )
    if not side.matches:
        if not side.misses:
            lines.append("  no rule: the selecting policies allow nothing in this direction")
        else:
            lines.append("  no rule matched; closest first:")
            for miss in side.misses[:5]:
                lines.append(f"    {miss.rule_id} ({miss.source}): {miss.why}")
    return lines


def _chain_lines(side: Side, subject: str, what: str) -> list[str]:
    """A side that cluster-wide policies decide: the tier chain, then each link."""
    verdict = "allows " + side.allowed.describe() if side.allowed else "allows nothing"
    lines = [f"{what} {subject}: {verdict}; {describe_chain(side.chain)}"]
    for step in side.chain:
        where = f" ({step.source})" if step.source.line else ""
        lines.append(
            f"  {step.tier}: {step.rule} {step.action}{where}: {step.connections.describe()}"
        )
    return lines


def render_decision(
    console: Console, src: str, dst: str, decision: Decision, notes: Iterable[str]
) -> None:
    verdict = (
        Text("ALLOWED", style="bold green")
        if decision.allowed
        else Text("DENIED", style="bold red")
    )
    port = decision.port
    if isinstance(port, str) and decision.port_number is not None:
        port = f"{port} ({decision.port_number})"
    what = (
        f"{decision.protocol} {port}"
        if decision.port is not None
        else (decision.connections.describe() if decision.allowed else "any port")
    )
    line = Text()
    line.append_text(verdict)
    line.append(f"  {src} → {dst}  {what}")
    console.print(line)
    for n in (*notes, *decision.notes):
        console.print(f"note: {n}", style="dim")
    for text in _side_lines(decision.egress, src):
        console.print(text)
    for text in _side_lines(decision.ingress, dst):
        console.print(text)
