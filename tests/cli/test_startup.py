"""The program builds only the command it runs (`cli._app_for`): the same command as in the
whole application, so its help, options and answers cannot differ."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from netpolicy.cli import _app_for, app

from ._helpers import DEMO, env, run

WHOLE: Any = typer.main.get_command(app)  # a group (typer's own copy of click's)
NAMES = sorted(WHOLE.commands)


def _shape(command: Any) -> object:
    """What a user can see of a command: its help, parameters and subcommands."""
    params = [(p.name, tuple(p.opts), p.required, p.default, str(p.type)) for p in command.params]
    subcommands = (
        {n: _shape(c) for n, c in command.commands.items()} if hasattr(command, "commands") else {}
    )
    return command.help, command.short_help, params, subcommands


def test_every_command_and_group_is_covered():
    assert {"analyze", "connlist", "explain", "lint", "diff", "lab", "blast-radius"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_one_command_app_has_exactly_that_command(name):
    only: Any = typer.main.get_command(_app_for([name]))
    assert list(only.commands) == [name]
    assert _shape(only.commands[name]) == _shape(WHOLE.commands[name])


@pytest.mark.parametrize("first", [[], ["--help"], ["no-such-command"], ["-o"]])
def test_anything_else_gets_the_whole_app(first):
    assert _app_for(first) is app


@pytest.mark.parametrize("name", ["connlist", "lab", "blast-radius"])
def test_help_reads_the_same(name):
    runner = CliRunner()
    whole = runner.invoke(app, [name, "--help"], env=env())
    only = runner.invoke(_app_for([name]), [name, "--help"], env=env())
    assert whole.exit_code == only.exit_code == 0
    assert whole.output == only.output


def test_the_program_runs_through_it():
    """`python -m netpolicy connlist` (which takes the one-command path) answers as the
    whole app does in-process, and a misspelt command still gets typer's suggestion."""
    proc = run("connlist", str(DEMO), "-o", "json")
    whole = CliRunner().invoke(app, ["connlist", str(DEMO), "-o", "json"], env=env())
    assert proc.returncode == whole.exit_code == 0
    assert proc.stdout == whole.stdout
    wrong = run("conlist")
    assert wrong.returncode == 2
    assert "Did you mean 'connlist'?" in wrong.stderr


def test_the_entry_point_leaves_the_collector_on():
    """`netpolicy.launch` turns the cyclic GC off only while the command line loads: it is on
    again (and what loaded is frozen) when the command runs."""
    script = (
        "import gc, sys\n"
        "from netpolicy import launch\n"
        "import netpolicy.cli as cli\n"
        "seen = []\n"
        "cli.main = lambda: seen.append((gc.isenabled(), gc.get_freeze_count() > 0))\n"
        "launch.main()\n"
        "print(seen)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[(True, True)]"
