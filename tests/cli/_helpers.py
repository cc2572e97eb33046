"""Running the command line: in-process (typer's CliRunner) or as the real program."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from typer.testing import CliRunner

from netpolicy.cli import app

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "src" / "netpolicy" / "demo" / "shop.yaml"
TIMEOUT = 60

# Two pairs of the embedded demo (src/netpolicy/demo/shop.yaml):
# backend-ingress lets the frontend in on `http` (8080); nothing lets default/debug in.
ALLOWED = ("shop/frontend", "shop/backend")
DENIED = ("default/debug", "shop/backend")


def env() -> dict[str, str]:
    """No colours, a wide terminal: output that reads the same on every machine."""
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}


def run(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m netpolicy ARGS` as a subprocess (the real entry point, `main()`)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "netpolicy", *args],
        input=data,
        capture_output=True,
        timeout=TIMEOUT,
        env=env(),
        check=False,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
    )


def run_many(argvs: Sequence[Sequence[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Several `run`s at once (each is a separate process; start-up dominates)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda argv: run(*argv), argvs))


def invoke(*args: str, stdin: str | None = None):
    """The typer app in-process: fast; an escaping exception shows as `result.exception`."""
    return CliRunner().invoke(app, list(args), input=stdin, env=env())


def no_traceback(proc: subprocess.CompletedProcess[str]) -> bool:
    return "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def describe(proc: subprocess.CompletedProcess[str]) -> str:
    out, err = proc.stdout[-1500:], proc.stderr[-3000:]
    return f"exit {proc.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"
