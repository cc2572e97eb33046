"""`netpolicy lab ...`: prove the policies on real packets in network namespaces (root)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Annotated, cast

import typer

from netpolicy import api
from netpolicy.cli._common import Paths, err, fail, load, out, write_chunks
from netpolicy.render.chunks import chunked

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


def _plan(
    paths: list[str] | None, ports: str = "declared", *, cross_check: bool = True
) -> tuple[api.Input, LabPlan]:
    if ports not in ("declared", "policy"):
        fail(f"--ports {ports}: choose declared or policy")
    from netpolicy.lab import LabError
    from netpolicy.lab.verify import plan_lab

    data = load(paths, "put in a lab")
    try:
        plan = plan_lab(data.cluster, ports=cast("PortChoice", ports), cross_check=cross_check)
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

    Exits 0 when every probe agrees with the analysis, 1 on any disagreement (of the \
packets, or of the engine with the one-pair evaluator on the cross-checked probes), 2 when \
the lab cannot run (bad input, not root, `ip` or `nft` missing) or the report cannot be \
written. A reader that stops early (`| head`) ends the output quietly; the exit status \
is still the verdict.
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
    verdict = 0 if report.ok else 1
    if output == "json":
        chunks = report.json_chunks({"input": data.description})
    else:
        chunks = report_chunks(
            report, data.description, len(data.cluster.policies), color=_colored(out.console)
        )
    write_output(chunks, closed_pipe_exit=verdict)
    if verdict:
        raise typer.Exit(verdict)


# ---- writing a lot ---------------------------------------------------------------------

CHUNK = 1 << 16
"""The most one write() is given: one oversized write can be cut short by the kernel."""


def _chunked(pieces: Iterable[str], size: int = CHUNK) -> Iterator[str]:
    return chunked(pieces, size)


def write_output(
    pieces: Iterable[str], *, closed_pipe_exit: int = 0, file: IO[str] | None = None
) -> None:
    """Write `pieces` to stdout (or `file`) in chunks, as every command does.

    A closed pipe (`| head`) exits with `closed_pipe_exit` (the verdict, so that pipefail
    scripts still see it) and no message; any other write error says so and exits 2.
    """
    write_chunks(_chunked(pieces), file, closed_pipe_exit=closed_pipe_exit)


def _colored(console: Console) -> bool:
    return console.is_terminal and console.color_system is not None and not console.no_color


_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}


def _paint(text: str, style: str, color: bool) -> str:
    if not color or not style or not text:
        return text
    codes = ";".join(_SGR[word] for word in style.split())
    return f"\x1b[{codes}m{text}\x1b[0m"


# ---- the comparison table --------------------------------------------------------------

DETAIL_LIMIT = 1000
"""Disagreements listed with their reason in the text report (JSON lists every probe)."""


def _port_token(port: int, protocol: str, served: bool) -> str:
    return f"{port}/{protocol}" + ("" if served else "*")


def render_report(console: Console, report: LabReport, description: str, policies: int) -> None:
    """The comparison table (rows: sources, columns: destinations), disagreements, timings."""
    write_output(
        report_chunks(report, description, policies, color=_colored(console)),
        file=console.file,
    )


def report_chunks(
    report: LabReport, description: str, policies: int, *, color: bool = False
) -> Iterator[str]:
    """The text report, line by line: header, comparison table, destinations, disagreements,
    engine mismatches, timings and the verdict. Never held whole in memory."""

    def line(text: str = "", style: str = "") -> str:
        return _paint(text, style, color) + "\n"

    total = len(report.plan.probes)
    guardrails = len(report.plan.cluster.cluster_policies)
    tiers = f"{guardrails} cluster-wide policies · " if guardrails else ""
    yield line(
        f"Lab verify: {description} · {len(report.pods)} pods · {policies} NetworkPolicies · "
        f"{tiers}{total} probes",
        "bold",
    )
    if report.excluded:
        yield line(
            "Not in the lab (hostNetwork pods share the node's network): "
            + ", ".join(report.excluded),
            "yellow",
        )
    if report.cross_family_pairs:
        yield line(
            f"{report.cross_family_pairs} ordered pairs of an IPv4 and an IPv6 pod are not "
            "probed: no packet can go between address families.",
            "yellow",
        )
    if report.assigned:
        yield line(
            f"{len(report.assigned)} pods had no IP and got one from 10.244.0.0/16 "
            "(the analysis and the ruleset both use these).",
            "dim",
        )
    yield line()
    yield from _matrix_lines(report, color)
    yield line()
    bad = report.disagreements
    if len(bad):
        yield line(f"Disagreements ({len(bad)})", "bold red")
        for o in bad[:DETAIL_LIMIT]:
            expected = "allowed" if o.expected else "denied"
            observed = "passed" if o.observed else "filtered"
            anomaly = (
                " (the destination serves this port, yet refused)"
                if o.served and o.detail == "refused"
                else ""
            )
            yield line(
                f"  {o.src} → {o.dst} {o.port}/{o.protocol}: analysis {expected}, "
                f"packets {observed} ({o.detail}, {o.elapsed * 1000:.0f} ms){anomaly}"
            )
            yield line(f"      {o.reason}", "dim")
        if len(bad) > DETAIL_LIMIT:
            yield line(
                f"  ... and {len(bad) - DETAIL_LIMIT} more (netpolicy lab verify -o json "
                "lists every probe)"
            )
        yield line()
    mismatches = report.engine_mismatches
    if mismatches:
        yield line(
            f"The all-pairs engine disagrees with the evaluator ({len(mismatches)} of "
            f"{report.cross_checked} cross-checked probes) — a bug in netpolicy's analysis:",
            "bold red",
        )
        for m in mismatches:
            yield line(
                f"  {m.src} → {m.dst} {m.port}/{m.protocol}: evaluator "
                f"{'allowed' if m.evaluator else 'denied'}, engine "
                f"{'allowed' if m.engine else 'denied'}"
            )
        yield line()
    yield line(_time_line(report))
    share = f" ({report.cross_checked / total:.0%})" if total else ""
    checked = (
        f"Cross-checked {report.cross_checked} of the {total} expected verdicts{share} with the "
        "one-pair evaluator: "
    )
    if mismatches:
        yield line(checked + f"{len(mismatches)} disagree: a bug.", "bold red")
    else:
        yield line(checked + "it confirms the engine's verdict on every one.")
    yield line(f"SCTP probed with {report.sctp_probe_method}.")
    undeclared = ", ".join(f"{port}/{proto}" for proto, port in report.undeclared.items())
    yield line(
        f"Ports marked * are served by no pod ({undeclared}, ...): there a reply from the pod "
        "(TCP reset, ICMP port unreachable, SCTP ABORT) means the packet passed the ruleset, "
        "and ICMP admin-prohibited from the router that it was filtered."
    )
    if report.ok:
        yield line(f"All {total} probes agree with the analysis.", "bold green")
    elif not len(bad):
        yield line(
            f"All {total} probes agree with the analysis, but the engine and the evaluator "
            f"disagree on {len(mismatches)} cross-checked probes.",
            "bold red",
        )
    else:
        yield line(f"{report.agreed}/{total} probes agree; {len(bad)} disagree.", "bold red")


def _time_line(report: LabReport) -> str:
    t, analysis = report.timings, report.plan.timings
    parts = []
    if "analysis" in t:
        inner = [
            f"{label} {analysis[key]:.2f}s"
            for key, label in (
                ("engine", "engine"),
                ("expected", "expected verdicts"),
                ("cross-check", "cross-check"),
                ("ruleset", "ruleset"),
            )
            if key in analysis
        ]
        parts.append(f"analysis {t['analysis']:.2f}s" + (f" ({', '.join(inner)})" if inner else ""))
    if "build" in t:
        inner = [f"{key} {seconds:.2f}s" for key, seconds in report.build_timings.items()]
        parts.append(f"build {t['build']:.2f}s" + (f" ({', '.join(inner)})" if inner else ""))
    for key, label in (
        ("apply", "apply ruleset"),
        ("probe", "probe"),
        ("teardown", "teardown"),
    ):
        if key in t:
            parts.append(f"{label} {t[key]:.2f}s")
    return "Time: " + " · ".join(parts) + f" · total {sum(t.values()):.2f}s"


def _center(text: str, width: int) -> str:
    left = (width - len(text)) // 2
    return " " * left + text + " " * (width - len(text) - left)


def _matrix_lines(report: LabReport, color: bool) -> Iterator[str]:
    """The comparison table: a row per source, a column per destination, a mark per port."""
    import numpy as np

    yield (
        f"Comparison: rows are sources, columns destinations; one mark per probed port of the "
        f"destination, in the order listed below.  {AGREE_ALLOWED} allowed by analysis and "
        f"packets · {AGREE_DENIED} denied by both · {DISAGREE} they disagree\n"
    )
    probes = report.plan.probes
    names = [p.name for p in report.pods]
    n = len(names)
    families = [":" in p.ip for p in report.pods]
    counts = [len(ports) for ports in probes.ports_of]
    widths = [max(len(str(d + 1)), counts[d], 1) for d in range(n)]
    marks = np.where(
        ~report.agrees,
        ord(DISAGREE),
        np.where(probes.expected, ord(AGREE_ALLOWED), ord(AGREE_DENIED)),
    )
    text = marks.astype(np.uint8).tobytes().decode("ascii")
    number = max(len(str(n)), 1)
    source = max([len("source"), *(len(name) for name in names)])
    header = "  ".join(
        ["#".rjust(number), "source".ljust(source)]
        + [_center(str(d + 1), widths[d]) for d in range(n)]
    )
    yield _paint(header.rstrip(), "bold", color) + "\n"
    self_cells = [_paint(_center("-", w), "dim", color) for w in widths]
    empty = [" " * w for w in widths]
    for s in range(n):
        pos, _ = probes.rows(s)
        cells = [str(s + 1).rjust(number), names[s].ljust(source)]
        for d in range(n):
            if d == s:
                cells.append(self_cells[d])
            elif families[d] != families[s]:
                cells.append(empty[d])
            else:
                cell = text[pos : pos + counts[d]]
                pos += counts[d]
                padded = _center(cell, widths[d])
                if color:
                    if DISAGREE in cell:
                        padded = _paint(padded, "bold red", color)
                    elif cell and cell.count(AGREE_ALLOWED) == len(cell):
                        padded = _paint(padded, "green", color)
                cells.append(padded)
        yield "  ".join(cells).rstrip() + "\n"
    yield "\n"
    yield "Destinations (ports in mark order; * = no server listens there):\n"
    served = [set(p.served) for p in report.pods]
    for d, name in enumerate(names):
        tokens = " ".join(
            _port_token(port, proto, (port, proto) in served[d])
            for port, proto in probes.ports_of[d]
        )
        yield f"  {d + 1:>3} {name:<{source if n else 0}}  {tokens or '-'}\n"


# ---- labs that stay up -----------------------------------------------------------------


def _running_lines(state: RunningLab, foreground: bool, color: bool) -> Iterator[str]:
    """What `lab up` prints: the lab, a row per pod, and how to use it and take it down."""
    yield f"Lab {state.prefix} is up: {state.description}, {len(state.pods)} pods\n"
    rows = [("pod", "namespace", "IP", "serves")]
    rows.append(("(router)", state.router_netns, "169.254.1.1", "nftables: table inet netpolicy"))
    rows += [(p.name, p.netns, p.ip, " ".join(p.ports) or "-") for p in state.pods]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for index, row in enumerate(rows):
        text = "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=False))
        yield _paint(f"  {text}  {row[3]}", "bold" if index == 0 else "", color) + "\n"
    first = state.pods[0].name if state.pods else "POD"
    yield f"Run a command in a pod:  netpolicy lab exec --name {state.prefix} {first} -- CMD\n"
    yield f"Look at the rules:       ip netns exec {state.router_netns} nft list ruleset\n"
    if foreground:
        yield _paint(
            "The lab stays up while this command runs: Ctrl-C tears it down.", "bold", color
        )
        yield "\n"
    else:
        yield f"A daemon (pid {state.pid}) keeps the pod servers running; its log: {state.log}\n"
        yield f"Take it down:            netpolicy lab down --name {state.prefix}\n"


def _print_running(state: RunningLab, foreground: bool) -> None:
    write_output(_running_lines(state, foreground, _colored(out.console)))


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

    data, plan = _plan(paths, cross_check=False)
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
    color = _colored(out.console)

    def lines() -> Iterator[str]:
        for state in labs:
            alive = "up" if state.is_alive() else "holder gone (lab down cleans up)"
            yield f"{state.prefix}  {len(state.pods)} pods  pid {state.pid}  {alive}\n"
            yield _paint(f"    {state.description}", "dim", color) + "\n"

    write_output(lines())


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
