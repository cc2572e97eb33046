"""Lint results for people (rich text) and programs (the `LintReport` JSON), and the check list.

The JSON comes as chunks, one finding each, so that a large report is never one write.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import TYPE_CHECKING

from netpolicy.analysis.lint import SEVERITIES, Check, LintReport
from netpolicy.render import formats

if TYPE_CHECKING:
    from rich.console import Console

FORMATS = formats.LINT
STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}
FIX_INDENT = 4
LIST_WIDTH = 100
"""The widest a `--list` explanation is wrapped, however wide the terminal."""


def render_lint(console: Console, report: LintReport) -> None:
    """Findings grouped by file, each line `file:line: severity [check] message` and its fix
    below, then the count per severity."""
    from rich.text import Text

    for file, findings in groupby(report.findings, key=lambda f: f.source.file):
        console.print(Text(file, style="bold underline"))
        for finding in findings:
            line = Text(f"{finding.source}: ")
            line.append(finding.severity, style=STYLES[finding.severity])
            line.append(f" [{finding.check}] {finding.message}")
            console.print(line)
            for fix_line in fix_lines(finding.fix):
                console.print(Text(fix_line, style="green"))
        console.print()
    console.print(Text(summary_line(report), style="bold" if report.findings else "green"))


def fix_lines(fix: str) -> list[str]:
    """The fix as indented lines: `fix: text` on one line, or a snippet below `fix:`."""
    text = fix.strip("\n")
    if not text.strip():
        return []
    pad = " " * FIX_INDENT
    if "\n" not in text:
        return [f"{pad}fix: {text.strip()}"]
    return [f"{pad}fix:", *(f"{pad}  {line}".rstrip() for line in text.splitlines())]


def summary_line(report: LintReport) -> str:
    """`1 error, 2 warnings, 0 info`, or `no findings` (with the number of checks run)."""
    if not report.findings:
        return f"no findings ({_plural(len(report.checks), 'check')} run)"
    return ", ".join(
        f"{report.counts[s]} {s}" if s == "info" else _plural(report.counts[s], s)
        for s in SEVERITIES
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def lint_json_chunks(report: LintReport) -> Iterator[str]:
    """The `LintReport` JSON document (exactly `report.to_dict()`), one finding per chunk."""
    head = {k: v for k, v in report.to_dict().items() if k != "findings"}
    yield json.dumps(head)[:-1] + ', "findings": ['
    yield from json_items((f.to_dict() for f in report.findings), "  ")
    yield "]}\n"


def render_lint_json(report: LintReport) -> str:
    return "".join(lint_json_chunks(report))


def json_items(items: Iterable[object], indent: str) -> Iterator[str]:
    """The elements of a JSON array, one a line (a chunk each), ending with a newline."""
    first = True
    for item in items:
        yield ("\n" if first else ",\n") + indent + json.dumps(item)
        first = False
    yield "\n"


def check_to_dict(check: Check) -> dict[str, str]:
    return {
        "id": check.id,
        "severity": check.severity,
        "title": check.title,
        "explanation": check.explanation,
    }


def checks_json_chunks(checks: Iterable[Check]) -> Iterator[str]:
    """`lint --list -o json`: every check with its default severity, title and explanation."""
    yield '{"apiVersion": "netpolicy/v1", "kind": "LintCheckList", "checks": ['
    yield from json_items((check_to_dict(c) for c in checks), "  ")
    yield "]}\n"


def render_checks(console: Console, checks: Iterable[Check]) -> None:
    """Every check as a block: ID and default severity, its title, the explanation wrapped."""
    from rich.text import Text

    width = max(min(console.width, LIST_WIDTH) - 2, 40)
    for check in checks:
        head = Text(check.id, style="bold")
        head.append("  ")
        head.append(check.severity, style=STYLES[check.severity])
        console.print(head)
        for line in textwrap.wrap(check.title, width - 2, break_on_hyphens=False):
            console.print(f"  {line}", style="italic")
        for line in textwrap.wrap(check.explanation, width - 2, break_on_hyphens=False):
            console.print(f"  {line}")
        console.print()
