"""`diff` on every staged upstream e2e test lists exactly the probes whose verdict flips.

Each `NN-slug-step1`/`-step2` pair of tests/e2e_upstream holds the complete state before and
after one change (a policy updated, added or deleted, a namespace or pod relabelled), and
`probes.json` the verdict upstream expects at each stage. A probe flips when both stages
probe it and the verdicts differ; the diff must name exactly those pairs and ports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netpolicy import api
from netpolicy.load import load_manifests
from netpolicy.semantics import ConnectionSet

CASES = Path(__file__).resolve().parents[1] / "e2e_upstream" / "cases"
STAGED = sorted(p.name[: -len("-step1")] for p in CASES.iterdir() if p.name.endswith("-step1"))

Probe = tuple[str, str, int, str]


def _probes(folder: Path) -> dict[Probe, bool]:
    doc = json.loads((folder / "probes.json").read_text())
    return {(p["from"], p["to"], p["port"], p["protocol"]): p["allowed"] for p in doc["probes"]}


def _cluster(folder: Path):
    loaded = load_manifests([folder / "manifests.yaml"])
    assert not loaded.errors
    return loaded.cluster


def test_every_staged_test_is_found():
    assert len(STAGED) == 10  # the README index: 20 step folders
    assert all((CASES / f"{s}-step2").is_dir() for s in STAGED)


@pytest.mark.parametrize("stem", STAGED)
def test_diff_lists_exactly_the_flipped_probes(stem: str):
    before, after = _probes(CASES / f"{stem}-step1"), _probes(CASES / f"{stem}-step2")
    common = before.keys() & after.keys()
    assert common
    flipped = {p for p in common if before[p] != after[p]}

    result = api.diff(_cluster(CASES / f"{stem}-step1"), _cluster(CASES / f"{stem}-step2"))
    changes = {(c.src, c.dst): c for c in result.changes()}
    none = ConnectionSet.none()
    listed = set()
    for probe in common:
        src, dst, port, protocol = probe
        change = changes.get((src, dst))
        was = change.before if change else none
        now = change.after if change else none
        if change is not None and was.allows(protocol, port) != now.allows(protocol, port):
            listed.add(probe)
            # and in the right direction: what upstream expects at each stage
            assert was.allows(protocol, port) == before[probe], probe
            assert now.allows(protocol, port) == after[probe], probe
    assert listed == flipped
    # every change is a real difference with a well-formed kind
    for change in changes.values():
        assert change.before != change.after
        expected = (
            "added"
            if change.before.is_empty()
            else "removed"
            if change.after.is_empty()
            else "changed"
        )
        assert change.change == expected


def test_a_case_with_flips_in_both_directions_is_covered():
    """The corpus exercises isolation, de-isolation and widening: guard the test's reach."""
    kinds = set()
    for stem in STAGED:
        before, after = _probes(CASES / f"{stem}-step1"), _probes(CASES / f"{stem}-step2")
        for p in before.keys() & after.keys():
            if before[p] != after[p]:
                kinds.add("cut" if before[p] else "opened")
    assert kinds == {"cut", "opened"}
