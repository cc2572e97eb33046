"""`netpolicy lint`: the classic NetworkPolicy mistakes, as text, JSON or SARIF."""

from __future__ import annotations

from typing import Annotated

import typer

from netpolicy import __version__, api
from netpolicy.cli._common import (
    HostNetwork,
    Paths,
    err,
    fail,
    host_network_mode,
    load,
    out,
    write_chunks,
)
from netpolicy.render.formats import LINT as FORMATS

ALIASES = {"txt": "text"}
"""Other commands call their text output `txt`; lint accepts that spelling too."""


def lint_command(
    paths: Paths = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help=f"One of {', '.join(FORMATS)}.")
    ] = "text",
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding is at or above this severity: error, warning or info.",
        ),
    ] = "error",
    disable: Annotated[
        list[str] | None,
        typer.Option("--disable", help="Leave out this check (repeatable; IDs in --list)."),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Lint settings (disable: [IDs], severity: {ID: level}). "
            "Default: .netpolicy.yaml in the current directory, when present.",
            show_default=False,
        ),
    ] = None,
    list_checks: Annotated[
        bool,
        typer.Option("--list", help="Print every check, its default severity and what it finds."),
    ] = False,
    host_network: HostNetwork = "node",
) -> None:
    """The classic NetworkPolicy mistakes: what happens at runtime, and the fix.

    Exits 1 when a finding is at or above --fail-on, or when the API server would reject an
    object of the input (its errors are on stderr); 2 for bad usage or unreadable input.
    """
    from netpolicy.analysis.lint import SEVERITIES

    mode = host_network_mode(host_network)
    fmt = ALIASES.get(output, output)
    if fmt not in FORMATS:
        fail(f"{output} output format is not supported for lint ({', '.join(FORMATS)})")
    if fail_on not in SEVERITIES:
        fail(f"--fail-on {fail_on}: choose one of {', '.join(SEVERITIES)}")
    if list_checks:
        _list(fmt)
        return
    disabled = _disabled(disable or [])
    settings = api.lint_config(config)
    if settings.diagnostics:
        from netpolicy.render.text import render_diagnostics

        render_diagnostics(err.console, settings.diagnostics)
    if settings.errors:
        fail(f"invalid lint config {settings.errors[0].source.file}")
    if config is None and settings.config.file is not None:
        err.print(f"note: lint settings from {settings.config.file}", style="dim")
    data = load(paths, "lint")
    report = api.lint(
        data.cluster,
        disable=[*settings.config.disable, *disabled],
        severity=dict(settings.config.severity),
        host_network=mode,
    )
    if fmt == "text":
        from netpolicy.render.lint import render_lint

        render_lint(out.console, report)
    elif fmt == "json":
        from netpolicy.render.lint import lint_json_chunks

        write_chunks(lint_json_chunks(report))
    else:
        from netpolicy.render.sarif import sarif_chunks

        write_chunks(sarif_chunks(report, __version__))
    if report.at_or_above(fail_on) or data.has_errors:
        # an object the API server would reject never reaches the cluster: always a failure
        raise typer.Exit(1)


def _disabled(values: list[str]) -> list[str]:
    """The check IDs of every --disable (a comma-separated list also works); exit 2 if unknown."""
    from netpolicy.analysis.lint import CHECK_IDS
    from netpolicy.load.config import unknown_check

    ids = [v.strip() for value in values for v in value.split(",") if v.strip()]
    for check_id in ids:
        if check_id not in CHECK_IDS:
            fail(f"--disable: {unknown_check(check_id, CHECK_IDS)}")
    return ids


def _list(fmt: str) -> None:
    from netpolicy.analysis.lint import CHECKS

    if fmt == "sarif":
        fail("--list prints text or json, not sarif")
    if fmt == "json":
        from netpolicy.render.lint import checks_json_chunks

        write_chunks(checks_json_chunks(CHECKS))
    else:
        from netpolicy.render.lint import render_checks

        render_checks(out.console, CHECKS)
