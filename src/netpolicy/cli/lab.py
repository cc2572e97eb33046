"""`netpolicy lab ...`: prove the policies on real packets in network namespaces (root)."""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, cast

import typer

from netpolicy import api
from netpolicy.cli._common import Paths, err, fail, load, out

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from netpolicy.lab.running import RunningLab
    from netpolicy.lab.topology import Progress as LabProgress
    from netpolicy.lab.verify import LabPlan, LabReport, PortChoice

# `netpolicy.lab` is imported inside the commands: every other command starts faster.

lab_app = typer.Typer(
    help="Prove the policies on real packets: pods as network namespaces, nftables between "
    "them (needs root, iproute2 and nftables).",
    no_args_is_help=True,
)

Name = Annotated[
    str | None,
    typer.Option("--name", help="The lab's prefix (as printed by `netpolicy lab up`)."),
]

PHASE_LABELS = {
    "analysis": "analysis",
    "namespaces": "namespaces",
    "links": "veth links",
    "pods": "pod servers",
    "apply": "ruleset",
    "probes": "probes",
    "teardown": "teardown",
}
AGREE_ALLOWED, AGREE_DENIED, DISAGREE = ".", "X", "!"


def _plan(paths: list[str] | None, ports: str = "declared") -> tuple[api.Input, LabPlan]:
    if ports not in ("declared", "policy"):
        fail(f"--ports {ports}: choose declared or policy")
    from netpolicy.lab import LabError
    from netpolicy.lab.verify import plan_lab

    data = load(paths, "put in a lab")
    try:
        plan = plan_lab(data.cluster, ports=cast("PortChoice", ports))
    except LabError as exc:
        fail(exc.message)
    if len(plan.pods) < 1:
        fail("the input has no pods or workloads to put in a lab")
    return data, plan


@contextmanager
def _progress_bars(enabled: bool) -> Iterator[Progress]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bars = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed:>6.0f}/{task.total:<6.0f}"),
        TimeElapsedColumn(),
        console=err.console,
        transient=True,
        disable=not enabled,
    )
    with bars:
        yield bars


def _progress_callback(bars: Progress) -> LabProgress:
    tasks: dict[str, TaskID] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task(PHASE_LABELS.get(phase, phase), total=max(total, 1))
        bars.update(tasks[phase], completed=done if total else 1, total=max(total, 1))

    return progress


@lab_app.command()
def verify(
    paths: Paths = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each probe's answer.")
    ] = 1.0,
    output: Annotated[str, typer.Option("-o", "--output", help="txt or json.")] = "txt",
    ports: Annotated[
        str,
        typer.Option(
            "--ports",
            help="declared: each pod's container ports plus one undeclared port per protocol; "
            "policy: also the edges of every port range the policies name.",
        ),
    ] = "declared",
) -> None:
    """Build a lab of the input, enforce it with nftables, probe every pair, compare.

    Exits 0 when every probe agrees with the analysis, 1 on any disagreement, 2 when \
the lab cannot run (bad input, not root, `ip` or `nft` missing).
    """
    if output not in ("txt", "json"):
        fail(f"{output} output format is not supported for lab verify (txt, json)")
    if timeout <= 0:
        fail("--timeout must be positive")
    from netpolicy.lab import LabError
    from netpolicy.lab.verify import run_plan

    data, plan = _plan(paths, ports)
    try:
        with _progress_bars(err.is_terminal and output == "txt") as bars:
            callback = _progress_callback(bars)
            report = run_plan(plan, progress=callback, timeout=timeout)
    except LabError as exc:
        fail(exc.message)
    if output == "json":
        doc = report.to_dict()
        doc["input"] = data.description
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        render_report(out.console, report, data.description, len(data.cluster.policies))
    if not report.ok:
        raise typer.Exit(1)


def _say(console: Console, *objects: object, style: str = "") -> None:
    console.print(*objects, style=style, markup=False, highlight=False)


# ---- the comparison table --------------------------------------------------------------


def _port_token(port: int, protocol: str, served: bool) -> str:
    return f"{port}/{protocol}" + ("" if served else "*")


def render_report(console: Console, report: LabReport, description: str, policies: int) -> None:
    """The comparison table (rows: sources, columns: destinations), disagreements, timings."""
    _say(
        console,
        f"Lab verify: {description} · {len(report.pods)} pods · {policies} NetworkPolicies · "
        f"{len(report.outcomes)} probes",
        style="bold",
    )
    if report.excluded:
        _say(
            console,
            f"Not in the lab (hostNetwork pods share the node's network): "
            f"{', '.join(report.excluded)}",
            style="yellow",
        )
    if report.cross_family_pairs:
        _say(
            console,
            f"{report.cross_family_pairs} ordered pairs of an IPv4 and an IPv6 pod are not "
            "probed: no packet can go between address families.",
            style="yellow",
        )
    if report.assigned:
        _say(
            console,
            f"{len(report.assigned)} pods had no IP and got one from 10.244.0.0/16 "
            "(the analysis and the ruleset both use these).",
            style="dim",
        )
    _say(
        console,
    )
    _render_matrix(console, report)
    _say(
        console,
    )
    bad = report.disagreements
    if bad:
        _say(console, f"Disagreements ({len(bad)})", style="bold red")
        for o in bad:
            expected = "allowed" if o.expected else "denied"
            observed = "passed" if o.observed else "filtered"
            anomaly = (
                " (the destination serves this port, yet refused)"
                if o.served and o.detail == "refused"
                else ""
            )
            _say(
                console,
                f"  {o.src} → {o.dst} {o.port}/{o.protocol}: analysis {expected}, "
                f"packets {observed} ({o.detail}, {o.elapsed * 1000:.0f} ms){anomaly}",
            )
            _say(console, f"      {o.reason}", style="dim")
        _say(
            console,
        )
    if report.engine_mismatches:
        _say(
            console,
            f"The all-pairs engine disagrees with the evaluator ({len(report.engine_mismatches)})"
            " — a bug in netpolicy's analysis:",
            style="bold red",
        )
        for m in report.engine_mismatches:
            _say(
                console,
                f"  {m.src} → {m.dst} {m.port}/{m.protocol}: evaluator "
                f"{'allowed' if m.evaluator else 'denied'}, engine "
                f"{'allowed' if m.engine else 'denied'}",
            )
        _say(
            console,
        )
    t = report.timings
    phases = [("analysis", "analysis"), ("build", "build"), ("apply", "apply ruleset")]
    phases += [("probe", "probe"), ("teardown", "teardown")]
    _say(
        console,
        "Time: "
        + " · ".join(f"{label} {t[key]:.2f}s" for key, label in phases if key in t)
        + f" · total {sum(t.values()):.2f}s",
    )
    _say(console, f"SCTP probed with {report.sctp_probe_method}.")
    undeclared = ", ".join(f"{port}/{proto}" for proto, port in report.undeclared.items())
    _say(
        console,
        f"Ports marked * are served by no pod ({undeclared}, ...): there a reply from the pod "
        "(TCP reset, ICMP port unreachable, SCTP ABORT) means the packet passed the ruleset, "
        "and ICMP admin-prohibited from the router that it was filtered.",
    )
    if report.ok:
        _say(
            console,
            f"All {len(report.outcomes)} probes agree with the analysis.",
            style="bold green",
        )
    else:
        _say(
            console,
            f"{report.agreed}/{len(report.outcomes)} probes agree; {len(bad)} disagree.",
            style="bold red",
        )


def _render_matrix(console: Console, report: LabReport) -> None:
    names = [p.name for p in report.pods]
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    columns: dict[str, list[str]] = defaultdict(list)
    for o in report.outcomes:
        mark = DISAGREE if not o.agrees else (AGREE_ALLOWED if o.expected else AGREE_DENIED)
        cells[(o.src, o.dst)].append(mark)
        token = _port_token(o.port, o.protocol, o.served)
        if token not in columns[o.dst]:
            columns[o.dst].append(token)
    _say(
        console,
        f"Comparison: rows are sources, columns destinations; one mark per probed port of the "
        f"destination, in the order listed below.  {AGREE_ALLOWED} allowed by analysis and "
        f"packets · {AGREE_DENIED} denied by both · {DISAGREE} they disagree",
    )
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("source")
    for index in range(len(names)):
        table.add_column(str(index + 1), justify="center", no_wrap=True)
    for row, src in enumerate(names):
        values: list[Text | str] = [str(row + 1), Text(src)]
        for dst in names:
            marks = "".join(cells.get((src, dst), []))
            if src == dst:
                values.append(Text("-", style="dim"))
            elif DISAGREE in marks:
                values.append(Text(marks, style="bold red"))
            else:
                values.append(Text(marks, style="green" if set(marks) == {"."} else ""))
        table.add_row(*values)
    _say(console, table)
    _say(
        console,
    )
    _say(console, "Destinations (ports in mark order; * = no server listens there):")
    width = max((len(n) for n in names), default=0)
    for index, dst in enumerate(names):
        ports = " ".join(columns.get(dst, [])) or "-"
        _say(console, f"  {index + 1:>3} {dst:<{width}}  {ports}")


# ---- labs that stay up -----------------------------------------------------------------


def _print_running(state: RunningLab, foreground: bool) -> None:
    out.print(f"Lab {state.prefix} is up: {state.description}, {len(state.pods)} pods")
    rows = [("pod", "namespace", "IP", "serves")]
    rows.append(("(router)", state.router_netns, "169.254.1.1", "nftables: table inet netpolicy"))
    rows += [(p.name, p.netns, p.ip, " ".join(p.ports) or "-") for p in state.pods]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for index, row in enumerate(rows):
        line = "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=False))
        out.print(f"  {line}  {row[3]}", style="bold" if index == 0 else "")
    first = state.pods[0].name if state.pods else "POD"
    out.print(f"Run a command in a pod:  netpolicy lab exec --name {state.prefix} {first} -- CMD")
    out.print(f"Look at the rules:       ip netns exec {state.router_netns} nft list ruleset")
    if foreground:
        out.print("The lab stays up while this command runs: Ctrl-C tears it down.", style="bold")
    else:
        out.print(f"A daemon (pid {state.pid}) keeps the pod servers running; its log: {state.log}")
        out.print(f"Take it down:            netpolicy lab down --name {state.prefix}")


@lab_app.command()
def up(
    paths: Paths = None,
    name: Name = None,
    foreground: Annotated[
        bool,
        typer.Option(
            "--foreground", help="Hold the lab in this process until Ctrl-C instead of a daemon."
        ),
    ] = False,
) -> None:
    """Build a lab of the input with its ruleset loaded, and keep it running.

    A small daemon holds the lab (the pod servers are its child processes) and the \
command returns; `netpolicy lab down` stops it. With --foreground this command holds \
the lab until Ctrl-C instead. Running labs are recorded under /run/netpolicy/labs \
($NETPOLICY_LAB_STATE_DIR).
    """
    from netpolicy.lab import LabError
    from netpolicy.lab.running import keep_lab_foreground, normalize_prefix, start_lab_daemon
    from netpolicy.lab.topology import new_prefix

    data, plan = _plan(paths)
    prefix = normalize_prefix(name) if name else new_prefix()
    try:
        spec = plan.lab_spec(prefix)
        if foreground:
            keep_lab_foreground(
                spec,
                plan.ruleset,
                data.description,
                on_ready=lambda state: _print_running(state, True),
            )
        else:
            with err.status("building the lab..."):
                state = start_lab_daemon(spec, plan.ruleset, data.description)
            _print_running(state, False)
    except LabError as exc:
        fail(exc.message)
    except (KeyboardInterrupt, SystemExit):
        if not foreground:
            raise
        err.print(f"lab {prefix} torn down")


@lab_app.command()
def down(name: Name = None) -> None:
    """Stop a lab started by `netpolicy lab up` and remove its namespaces and processes."""
    from netpolicy.lab import LabError
    from netpolicy.lab.running import stop_lab

    try:
        state, forced = stop_lab(name)
    except LabError as exc:
        fail(exc.message)
    how = f" (its holder was gone; removed {len(forced)} namespaces)" if forced else ""
    err.print(f"lab {state.prefix} is down{how}")


@lab_app.command(name="list")
def list_labs() -> None:
    """The labs started by `netpolicy lab up` that are recorded as running."""
    from netpolicy.lab.running import running_labs, state_dir

    labs = running_labs()
    if not labs:
        err.print(f"no lab is running (records: {state_dir()})")
        return
    for state in labs:
        alive = "up" if state.is_alive() else "holder gone (lab down cleans up)"
        out.print(f"{state.prefix}  {len(state.pods)} pods  pid {state.pid}  {alive}  ")
        out.print(f"    {state.description}", style="dim")


@lab_app.command(
    name="exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def exec_(
    pod: Annotated[str, typer.Argument(help="The pod: ns/name, ns/name[Kind] or name.")],
    command: Annotated[
        list[str] | None, typer.Argument(help="The command and its arguments, after --.")
    ] = None,
    name: Name = None,
) -> None:
    """Run a command inside a pod's network namespace of a running lab: POD -- CMD..."""
    from netpolicy.lab import LabError
    from netpolicy.lab.running import exec_argv, find_lab

    try:
        state = find_lab(name)
        argv = exec_argv(state, pod, list(command or []))
    except LabError as exc:
        fail(exc.message)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        fail(f"cannot run {argv[0]}: {exc}")


__all__ = ["lab_app", "render_report"]
