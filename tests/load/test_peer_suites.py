"""The loader over every netpol-analyzer scenario: never raises, and the known quirks hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpolicy.load import load_manifests

from ._helpers import of


def _scenarios(suite: Path) -> list[Path]:
    return sorted((suite / "tests").iterdir())


def test_every_scenario_loads_without_raising(peer_suite: Path) -> None:
    scenarios = _scenarios(peer_suite)
    assert len(scenarios) > 100
    for scenario in scenarios:
        result = load_manifests([scenario])
        for diagnostic in result.diagnostics:
            assert diagnostic.source.file, (scenario, diagnostic)


@pytest.mark.parametrize(
    "scenario",
    [
        "document_with_syntax_error",
        "malformed-pod-example-5",
        "onlineboutique_with_pods_severe_error",
    ],
)
def test_syntax_errors_keep_the_upstream_message(peer_suite: Path, scenario: str) -> None:
    errors = of(load_manifests([peer_suite / "tests" / scenario]), "error")
    assert any("found character that cannot start any token" in e.message for e in errors)
    assert all(e.source.line > 0 for e in errors)


def test_json_array_beside_manifests_is_a_non_fatal_error(peer_suite: Path) -> None:
    result = load_manifests([peer_suite / "tests" / "onlineboutique"])
    [error] = of(result, "error")
    assert "cannot unmarshal array into Go value of type unstructured.detector" in error.message
    assert result.cluster.pods and result.cluster.policies


def test_directory_of_other_files_is_an_error(peer_suite: Path) -> None:
    [error] = of(load_manifests([peer_suite / "tests" / "bad_yamls" / "subdir2"]), "error")
    assert "recognized file extensions are [.json .yaml .yml]" in error.message


def test_tabs_in_flow_sequences_load(peer_suite: Path) -> None:
    result = load_manifests([peer_suite / "tests" / "acs-security-demos-added-workloads"])
    assert not of(result, "error")
    keys = {w.key for w in result.cluster.workloads}
    assert {"frontend/webapp[Deployment]", "payments/gateway[Deployment]"} <= keys


def test_crlf_manifests_load(peer_suite: Path) -> None:
    result = load_manifests([peer_suite / "tests" / "udn_test_1"])
    assert not of(result, "error")
