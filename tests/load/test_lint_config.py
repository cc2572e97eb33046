"""The lint config file: both shapes, and every mistake as a located error."""

from __future__ import annotations

import pytest

from netpolicy.load.config import LintConfig, find_lint_config, load_lint_config

IDS = frozenset({"broad-peer", "redundant", "dns-egress-blocked"})


def read(tmp_path, text: str, name: str = ".netpolicy.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_lint_config(path, IDS)


@pytest.mark.parametrize(
    "text",
    [
        "disable: [redundant, broad-peer]\nseverity: {dns-egress-blocked: error}\n",
        "lint:\n  disable: [redundant, broad-peer]\n  severity:\n    dns-egress-blocked: error\n",
    ],
    ids=["top-level", "under-lint"],
)
def test_both_shapes_give_the_same_settings(tmp_path, text):
    result = read(tmp_path, text)
    assert result.diagnostics == ()
    assert result.config.disable == ("redundant", "broad-peer")
    assert dict(result.config.severity) == {"dns-egress-blocked": "error"}
    assert result.config.file == str(tmp_path / ".netpolicy.yaml")


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "---\n", "disable:\nseverity:\n"])
def test_empty_settings(tmp_path, text):
    result = read(tmp_path, text)
    assert result.errors == ()
    assert (result.config.disable, dict(result.config.severity)) == ((), {})


def test_repeated_ids_are_kept_once(tmp_path):
    assert read(tmp_path, "disable: [redundant, redundant]\n").config.disable == ("redundant",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "disable:\n  - redundant\n  - redundnt\n",
            ["3: error: unknown check 'redundnt' (did you mean 'redundant'?) (disable[1])"],
        ),
        (
            "disable: [zzz]\n",
            ["1: error: unknown check 'zzz' (netpolicy lint --list shows them) (disable[0])"],
        ),
        ("disable: redundant\n", ["1: error: must be a list, not a string (disable)"]),
        (
            "disable:\n  - 1\n",
            ["2: error: must be a check ID (a string), not an integer (disable[0])"],
        ),
        ("severity: [redundant]\n", ["1: error: must be a mapping, not a list (severity)"]),
        (
            "severity:\n  redundant: fatal\n",
            [
                "2: error: severity must be one of error, warning, info, not 'fatal' "
                "(severity.redundant)"
            ],
        ),
        (
            "severity:\n  nope: info\n",
            ["2: error: unknown check 'nope' (netpolicy lint --list shows them) (severity.nope)"],
        ),
        (
            "lint:\n  disable: [redundant]\n  sevrity: {}\n",
            ["3: error: unknown field 'sevrity' (lint reads disable and severity) (lint.sevrity)"],
        ),
        (
            "lint:\n  severity: {redundant: loud}\n",
            [
                "2: error: severity must be one of error, warning, info, not 'loud' "
                "(lint.severity.redundant)"
            ],
        ),
        ("lint: [redundant]\n", ["1: error: must be a mapping, not a list (lint)"]),
        (
            "disable: [redundant]\nlint:\n  disable: [broad-peer]\n",
            [
                "1: error: give disable and severity either at the top level or under lint:, "
                "not both (disable)"
            ],
        ),
        ("- redundant\n", ["1: error: must be a mapping, not a list"]),
        (
            "disable: [redundant]\n---\ndisable: []\n",
            ["3: error: a config file holds one YAML document"],
        ),
    ],
)
def test_mistakes_are_located_errors(tmp_path, text, expected):
    result = read(tmp_path, text)
    assert [str(d).removeprefix(f"{tmp_path}/.netpolicy.yaml:") for d in result.diagnostics] == (
        expected
    )
    assert result.errors
    assert result.config == LintConfig()  # nothing of a broken config is applied


def test_unknown_top_level_key_is_a_warning(tmp_path):
    result = read(tmp_path, "coverage: {min: 3}\ndisable: [redundant]\n")
    assert result.errors == ()
    [warning] = result.diagnostics
    assert warning.severity == "warning"
    assert warning.source.line == 1
    assert "unknown field 'coverage' ignored" in warning.message
    assert result.config.disable == ("redundant",)


def test_invalid_yaml(tmp_path):
    result = read(tmp_path, "disable: [redundant\n")
    [error] = result.diagnostics
    assert error.message.startswith("invalid YAML")
    assert error.source.line == 2


def test_missing_and_unreadable_files(tmp_path):
    [missing] = load_lint_config(tmp_path / "nope.yaml", IDS).diagnostics
    assert str(missing) == f"{tmp_path / 'nope.yaml'}: error: config file does not exist"
    [directory] = load_lint_config(tmp_path, IDS).diagnostics
    assert directory.message.startswith("cannot read config file:")
    (tmp_path / "latin1.yaml").write_bytes(b"disable: [\xe9]\n")
    [undecodable] = load_lint_config(tmp_path / "latin1.yaml", IDS).diagnostics
    assert undecodable.message.startswith("cannot read config file:")


def test_find_lint_config(tmp_path):
    assert find_lint_config(tmp_path) is None
    (tmp_path / ".netpolicy.yaml").mkdir()
    assert find_lint_config(tmp_path) is None  # a directory of that name is not a config
    other = tmp_path / "x"
    other.mkdir()
    (other / ".netpolicy.yaml").write_text("")
    assert find_lint_config(other) == other / ".netpolicy.yaml"
