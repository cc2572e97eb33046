from __future__ import annotations

from pathlib import Path

import pytest

from netpolicy.load import load_manifests
from netpolicy.model import Cluster

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def snapshot() -> Cluster:
    """Live pods of Deployments, a StatefulSet, a bare pod, an IPv6 pod, the cluster DNS."""
    loaded = load_manifests([DATA / "cluster.yaml"])
    assert not [d for d in loaded.diagnostics if d.severity == "error"]
    return loaded.cluster
