"""The policy shapes of benchmarks/nca_shapes.py: valid input, and an engine that agrees.

The `mixed` shape (many rules and peers, ports spread over 1-9000 with ranges and UDP) cuts
the port space into hundreds of atoms and the address space into many pieces: the sampled
agreement with the one-pair evaluator covers those paths of the all-pairs engine.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.api import load_input

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"netpolicy_bench_{name}", BENCHMARKS / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


shapes = _load("nca_shapes")
check = _load("check")


@pytest.mark.parametrize("shape", shapes.SHAPES)
def test_shape_is_valid_and_the_engine_agrees(shape: str, tmp_path: Path) -> None:
    count = shapes.write(shapes.shaped_cluster(shape, 1), tmp_path)
    assert count == 100
    loaded = load_input([tmp_path / "cluster.json"])
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert not errors, errors[:3]
    assert len(loaded.cluster.policies) == 100
    assert len(loaded.cluster.pods) == 200
    agreement = check.check(loaded.cluster, probes=3_000, seed=0)
    assert agreement.ok, "\n".join(str(m) for m in agreement.mismatches)
    assert agreement.allowed >= 100


def test_mixed_shape_cuts_many_port_atoms(tmp_path: Path) -> None:
    atoms = {}
    for shape in ("spec", "mixed"):
        folder = tmp_path / shape
        shapes.write(shapes.shaped_cluster(shape, 1), folder)
        atoms[shape] = len(
            compute_connectivity(load_input([folder / "cluster.json"]).cluster).atoms.atoms
        )
    assert atoms["mixed"] > 10 * atoms["spec"]


def test_shapes_keep_pods_and_namespace_policies() -> None:
    spec = shapes.shaped_cluster("spec", 1)
    mixed = shapes.shaped_cluster("mixed", 1)
    assert [w.key for w in spec.workloads] == [w.key for w in mixed.workloads]
    kept = [
        p
        for p in spec.policies
        if p["metadata"]["name"] in ("default-deny-all", "allow-dns-egress")
    ]
    assert kept and all(p in mixed.policies for p in kept)
    assert spec.policies != mixed.policies
