"""The all-pairs engine agrees with the one-pair evaluator on 10,000 probes at S and at M.

The clusters are generated afresh (benchmarks/generate.py, JSON only) into a temporary
directory; benchmarks/check.py draws the probes (random, engine-targeted, rule-targeted).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.api import load_input
from netpolicy.model import Cluster
from netpolicy.semantics import ConnectionSet

from ._scripts import load_script

generate = load_script("generate")
check = load_script("check")


def _cluster(size: str, out: Path) -> Cluster:
    generate.generate(size, 1, out, "json")
    return load_input([out / size / "cluster.json"]).cluster


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    return _cluster("S", tmp_path_factory.mktemp("s"))


@pytest.mark.parametrize("size", ["S", "M"])
def test_sampled_agreement(size: str, small: Cluster, tmp_path: Path) -> None:
    cluster = small if size == "S" else _cluster(size, tmp_path)
    agreement = check.check(cluster, probes=10_000, seed=0)
    assert agreement.probes == 10_000
    assert agreement.ok, "\n".join(str(m) for m in agreement.mismatches)
    # the targeted probes make sure "allowed" answers are compared too, not only denials
    assert agreement.allowed >= 1_000
    assert {k.partition(" ")[0] for k in agreement.by_kind} == {
        "pod->pod",
        "pod->outside",
        "outside->pod",
    }


def test_a_wrong_engine_answer_is_caught(small: Cluster) -> None:
    """Dropping allowed class pairs (misses) or opening outside ranges (false allows) shows."""
    result = compute_connectivity(small)
    for key in list(result.class_pairs)[::3]:
        del result.class_pairs[key]
    missed = check.check(small, probes=2_000, seed=1, result=result)
    assert not missed.ok
    assert any(not m.engine and m.evaluator for m in missed.mismatches)

    result = compute_connectivity(small)
    everything = ConnectionSet.all()
    for key in list(result.to_outside)[::5]:
        result.to_outside[key] = everything
    widened = check.check(small, probes=2_000, seed=1, result=result)
    assert not widened.ok
    assert any(m.engine and not m.evaluator for m in widened.mismatches)
