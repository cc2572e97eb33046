"""The policy shapes of benchmarks/nca_shapes.py: valid input, and an engine that agrees.

The `mixed` shape (many rules and peers, ports spread over 1-9000 with ranges and UDP) cuts
the port space into hundreds of atoms and the address space into many pieces: the sampled
agreement with the one-pair evaluator covers those paths of the all-pairs engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.api import load_input

from ._scripts import load_script

shapes = load_script("nca_shapes")
check = load_script("check")


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
