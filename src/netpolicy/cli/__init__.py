"""The command line: parse arguments, call one library function, render. Thin.

Every command module is imported at start (typer needs every command's options); what a
command runs is imported inside the command, so that the others start without it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer

from netpolicy import api
from netpolicy.cli import _common as cli_common
from netpolicy.cli._common import (
    HostNetwork,
    Paths,
    cluster_options,
    err,
    fail,
    load,
    out,
    write_chunks,
)
from netpolicy.cli._common import host_network_mode as _host_network
from netpolicy.cli.blast import blast_command
from netpolicy.cli.coverage import coverage_command
from netpolicy.cli.diff import diff_command
from netpolicy.cli.dump import dump_command
from netpolicy.cli.generate import generate_command
from netpolicy.cli.lab import lab_app
from netpolicy.cli.lint import lint_command
from netpolicy.cli.report import report_command
from netpolicy.load import gc_paused
from netpolicy.model import PROTOCOLS, Protocol
from netpolicy.render.connlist import connlist_chunks
from netpolicy.render.formats import CONNLIST as FORMATS
from netpolicy.render.formats import GROUPED as GROUPED_FORMATS

_APP_SETTINGS: dict[str, Any] = {
    "name": "netpolicy",
    "help": "Kubernetes NetworkPolicy, exactly: what can talk to what, and why.",
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
}
app = typer.Typer(**_APP_SETTINGS)
app.add_typer(lab_app, name="lab")

Profile = Annotated[bool, typer.Option("--profile", help="Print where the time went (stderr).")]


def _profile(timings: api.Timings) -> None:
    total = sum(timings.phases.values())
    parts = " · ".join(f"{k} {v:.3f}s" for k, v in timings.phases.items())
    # plain text: the timing line should not itself cost the import of rich
    sys.stderr.write(f"profile: {parts} · total {total:.3f}s\n")


@app.command()
@cluster_options
def analyze(paths: Paths = None, host_network: HostNetwork = "node") -> None:
    """What can talk to what: isolation per namespace, allowed connections, warnings."""
    mode = _host_network(host_network)
    data = load(paths)
    summary = api.analyze(data.cluster, mode)
    from netpolicy.render.text import render_summary

    render_summary(out.console, summary, data.description, data.demo)


@app.command()
@cluster_options
def connlist(
    paths: Paths = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help=f"One of {', '.join(FORMATS)}.")
    ] = "txt",
    focus: Annotated[
        str | None, typer.Option("--focus", help="Only connections of NS/NAME.")
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "-n",
            "--namespace",
            help="Only connections touching this namespace (from a cluster: only it is read).",
        ),
    ] = None,
    workloads: Annotated[
        bool | None,
        typer.Option(
            "--workloads/--pods",
            help="Aggregate pods to their owning workloads, or list every pod. "
            f"Default: workloads above {api.AUTO_WORKLOADS} pods, pods otherwise.",
            show_default=False,
        ),
    ] = None,
    exposure: Annotated[
        bool,
        typer.Option(
            "--exposure",
            help="Also what each workload is exposed to beyond the input: the entire cluster, "
            "pods matching a selector, outside ranges, and who is not protected.",
        ),
    ] = False,
    grouped: Annotated[
        bool,
        typer.Option(
            "--grouped",
            help="Connections between groups of endpoints that the policies treat alike, "
            "each group described by its namespaces and a label selector.",
        ),
    ] = False,
    profile: Profile = False,
    host_network: HostNetwork = "node",
) -> None:
    """Every allowed connection (src => dst : ports)."""
    mode = _host_network(host_network)
    formats = GROUPED_FORMATS if grouped else FORMATS
    if output not in formats:
        fail(
            f"{output} output format is not supported{' with --grouped' if grouped else ''} "
            f"(choose one of {', '.join(formats)})"
        )
    if grouped and (focus is not None or namespace is not None or exposure):
        fail("--grouped shows the whole cluster: it does not combine with --focus, -n, --exposure")
    timings = api.Timings()
    started = time.perf_counter()
    data = load(paths)
    started = timings.add("load", started)
    if workloads is None and api.prefers_workloads(data.cluster):
        err.print(
            f"note: {len(data.cluster.pods)} pods: listing connections per workload "
            "(--pods for every pod)",
            style="dim",
        )
        workloads = True
    if grouped:
        with gc_paused():
            view = api.grouped(
                data.cluster, workloads=workloads, timings=timings, host_network=mode
            )
            if view.warnings:
                from netpolicy.render.text import render_diagnostics

                render_diagnostics(err.console, view.warnings)
            started = time.perf_counter()
            from netpolicy.render.grouped import grouped_chunks

            write_chunks(grouped_chunks(view, output))
            timings.add("rows and render", started)
        if profile:
            _profile(timings)
        return
    with gc_paused():
        rows = api.connection_rows(
            data.cluster,
            workloads=workloads,
            focus=focus,
            namespace=namespace,
            timings=timings,
            host_network=mode,
        )
        if rows.warnings:
            from netpolicy.render.text import render_diagnostics

            render_diagnostics(err.console, rows.warnings)
        if not rows.matched and (focus is not None or namespace is not None):
            what = " and ".join(
                f"{flag} {value}"
                for flag, value in (("--focus", focus), ("--namespace", namespace))
                if value is not None
            )
            fail(f"{what} matches no pod, workload or outside range of the input")
        started = time.perf_counter()
        inside, after = "", ""
        if exposure:
            from netpolicy.render.exposure import exposure_sections

            exposed = api.exposure(
                data.cluster, focus=focus, namespace=namespace, connectivity=rows.result
            )
            inside, after = exposure_sections(exposed, output)
        write_chunks(connlist_chunks(rows, output, inside))
        if after:
            write_chunks([after])
        timings.add("rows and render", started)
    if profile:
        _profile(timings)


def parse_port(text: str) -> tuple[Protocol, int | str]:
    """`80`, `80/TCP`, `UDP/53`, `http`, `dns/UDP` → (protocol, port)."""
    parts = [p for p in text.replace(":", "/").split("/") if p]
    protocols = [p.upper() for p in parts if p.upper() in PROTOCOLS]
    ports = [p for p in parts if p.upper() not in PROTOCOLS]
    protocol: Protocol = protocols[0] if protocols else "TCP"  # type: ignore[assignment]
    port: int | str | None = None
    if len(ports) == 1:
        port = int(ports[0]) if ports[0].isdigit() else ports[0]
    if port is None or len(parts) > 2 or len(protocols) > 1:
        raise ValueError(f"--port {text!r}: expected PORT[/PROTOCOL], e.g. 80/TCP or http")
    if isinstance(port, int) and not 1 <= port <= 65535:
        raise ValueError(f"--port {text!r}: port must be in 1..65535")
    return protocol, port


@app.command()
@cluster_options
def explain(
    src: Annotated[str, typer.Argument(help="Source: ns/name (pod or workload) or an IP address.")],
    dst: Annotated[
        str, typer.Argument(help="Destination: ns/name (pod or workload) or an IP address.")
    ],
    paths: Paths = None,
    port: Annotated[
        str | None, typer.Option("--port", "-p", help="80/TCP, UDP/53, or a port name.")
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="txt or json.")] = "txt",
    profile: Profile = False,
    host_network: HostNetwork = "node",
    suggest: Annotated[
        bool,
        typer.Option(
            "--suggest",
            help="When denied: the smallest change that allows it, as YAML to apply, "
            "verified by re-analysis, with every other connection it opens.",
        ),
    ] = False,
) -> None:
    """Why one connection is allowed or denied, down to the rule. Exits 1 when denied."""
    from netpolicy.analysis.endpoints import EndpointError
    from netpolicy.cli.suggest import suggestion_doc, suggestion_for, suggestion_text

    mode = _host_network(host_network)
    if output not in ("txt", "json"):
        fail(f"{output} output format is not supported for explain (txt, json)")
    protocol: Protocol = "TCP"
    number: int | str | None = None
    if port is not None:
        try:
            protocol, number = parse_port(port)
        except ValueError as e:
            fail(str(e))
    if suggest and number is None:
        fail("--suggest needs --port (the connection to allow), e.g. --port 5432/TCP")
    timings = api.Timings()
    started = time.perf_counter()
    data = load(paths)
    started = timings.add("load", started)
    try:
        result = api.explain(data.cluster, src, dst, protocol, number, host_network=mode)
        suggestion = (
            suggestion_for(data.cluster, result, src, dst, protocol, number, mode)
            if suggest and number is not None
            else None
        )
    except EndpointError as e:
        fail(str(e))
    timings.add("explain", started)
    if output == "json":
        from netpolicy.render.decision import decision_to_dict

        doc = decision_to_dict(result.src, result.dst, result.decision, result.notes)
        if suggestion is not None:
            doc["suggestion"] = suggestion_doc(suggestion)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        from netpolicy.render.text import render_decision

        render_decision(out.console, result.src, result.dst, result.decision, result.notes)
        if suggestion is not None:
            write_chunks([suggestion_text(suggestion)])
    if profile:
        _profile(timings)
    if not result.decision.allowed:
        raise typer.Exit(1)


app.command(name="lint")(cluster_options(lint_command))
app.command(name="coverage")(cluster_options(coverage_command))
app.command(name="diff")(cluster_options(diff_command))
app.command(name="blast-radius")(cluster_options(blast_command))
app.command(name="dump")(cluster_options(dump_command))
app.command(name="report")(cluster_options(report_command))
app.command(name="generate")(cluster_options(generate_command))


@app.command()
def enforce(
    paths: Paths = None,
    print_: Annotated[
        bool, typer.Option("--print", help="Print the nftables ruleset (default).")
    ] = False,
    apply: Annotated[
        bool, typer.Option("--apply", help="Load it atomically into its own table (root).")
    ] = False,
    delete: Annotated[
        bool, typer.Option("--delete", help="Remove only netpolicy's table.")
    ] = False,
    stats: Annotated[bool, typer.Option("--stats", help="How often each rule matched.")] = False,
    table: Annotated[
        str, typer.Option("--table", help="nftables table name (family inet).")
    ] = "netpolicy",
    assign_ips: Annotated[
        str | None,
        typer.Option(
            "--assign-ips",
            help="Give pods without an IP one from this CIDR (the demo uses 10.244.0.0/16).",
        ),
    ] = None,
    netns: Annotated[
        str | None, typer.Option("--netns", help="Run nft inside this network namespace.")
    ] = None,
) -> None:
    """Compile the policies to nftables; print, apply, delete or show counters."""
    from netpolicy.enforce import RulesetOptions, render_ruleset
    from netpolicy.enforce.addressing import LAB_RANGE, assign_addresses
    from netpolicy.enforce.apply import EnforceError, apply_ruleset, delete_table, rule_stats

    if sum((print_, apply, delete, stats)) > 1:
        fail("choose one of --print, --apply, --delete, --stats")
    try:
        if delete:
            removed = delete_table(table, netns)
            err.print(f"table inet {table} {'removed' if removed else 'was not loaded'}")
            return
        if stats:
            counted = rule_stats(table, netns)
            width = max((len(st.chain) for st in counted), default=0)
            for st in counted:
                out.print(
                    f"{st.packets:>10} pkts {st.bytes:>12} bytes  {st.chain:<{width}} {st.comment}"
                )
            return
        data = load(paths)
        cluster = data.cluster
        cidr = assign_ips or (LAB_RANGE if data.demo else None)
        if cidr is not None:
            try:
                cluster, assigned = assign_addresses(cluster, cidr)
            except ValueError as e:
                fail(str(e))
            for key, ip in assigned.items():
                err.print(f"note: {key} has no IP; using {ip} (--assign-ips)", style="dim")
        missing = [p.key for p in cluster.pods if not p.ip and not p.host_network]
        if missing:
            err.print(
                f"warning: {len(missing)} pods have no IP and cannot be enforced "
                f"(e.g. {', '.join(missing[:3])}); use --assign-ips CIDR",
                style="yellow",
            )
        text = render_ruleset(cluster, RulesetOptions(table=table))
        if apply:
            apply_ruleset(text, table, netns)
            err.print(f"table inet {table} loaded ({text.count(chr(10))} lines)")
        else:
            write_chunks([text])
    except EnforceError as e:
        fail(str(e))


def _app_for(first: list[str]) -> typer.Typer:
    """The application as typer should build it for a command line starting with `first`:
    with only the command (or command group) it names, since typer builds the options of
    every registered command at each start (5 ms of a 0.2 s run); the whole application for
    anything else (`--help`, a misspelt command), so that help and errors list every command.
    """
    if not first:
        return app
    import typer.main

    for info in app.registered_commands:
        named = info.name or (info.callback and typer.main.get_command_name(info.callback.__name__))
        if named == first[0]:
            only = typer.Typer(**_APP_SETTINGS)
            only.registered_commands = [info]
            break
    else:
        groups = [g for g in app.registered_groups if g.name == first[0]]
        if not groups:
            return app
        only = typer.Typer(**_APP_SETTINGS)
        only.registered_groups = groups
    # a callback keeps it a group (typer would run a lone command without its name)
    only.callback()(_group)
    return only


def _group() -> None:
    """Kubernetes NetworkPolicy, exactly: what can talk to what, and why."""


def main() -> None:
    """Entry point: no Python traceback ever reaches the user."""
    cli_common.settle_loaded_input = True
    if not isinstance(sys.stdout, cli_common.GuardedStdout):
        sys.stdout = cli_common.GuardedStdout(sys.stdout)  # type: ignore[assignment]
    try:
        _app_for(sys.argv[1:2])()
    except cli_common.OutputError as e:
        cli_common.output_failed(e)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # a bug of ours: say so plainly, without a traceback
        err.print(f"netpolicy: internal error: {type(e).__name__}: {e}", style="bold red")
        err.print("please report this with the input that caused it", style="dim")
        sys.exit(2)


__all__ = ["app", "main", "parse_port"]

if __name__ == "__main__":  # pragma: no cover
    main()
