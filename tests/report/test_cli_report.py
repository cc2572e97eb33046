"""`netpolicy report`: writes one file, never overwrites one silently."""

from __future__ import annotations

from typer.testing import CliRunner

from netpolicy.cli import app

from ..cli._helpers import DEMO


def run(*args: str):
    return CliRunner().invoke(app, ["report", *args])


def test_writes_the_page(tmp_path):
    target = tmp_path / "out.html"
    result = run(str(DEMO), "-o", str(target), "--title", "shop <demo>")
    assert result.exit_code == 0, result.output
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>shop &lt;demo&gt;</title>" in page
    assert "43 allowed connections" in result.output  # the note on stderr


def test_refuses_an_existing_file_unless_forced(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("keep me")
    result = run("-o", str(target))
    assert result.exit_code == 2
    assert "exists" in result.output and "--force" in result.output
    assert target.read_text() == "keep me"
    result = run("-o", str(target), "--force")
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_default_name_and_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run().exit_code == 0
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert run().exit_code == 2  # the default file is not overwritten either
    result = run("-o", "-")
    assert result.exit_code == 0
    assert result.stdout.startswith("<!DOCTYPE html>")


def test_unreadable_input_is_exit_2_and_no_file(tmp_path):
    target = tmp_path / "out.html"
    result = run(str(tmp_path / "missing.yaml"), "-o", str(target))
    assert result.exit_code == 2
    assert not target.exists()


def test_unwritable_target_is_exit_2(tmp_path):
    result = run("-o", str(tmp_path / "no" / "such" / "dir" / "r.html"))
    assert result.exit_code == 2
    assert "cannot write" in result.output
