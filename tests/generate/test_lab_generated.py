"""Generated policies on real packets: `lab verify` on the demo with the policies `generate`
wrote (through the loader) in place of the demo's own agrees with the analysis on every probe,
and the intended connections do connect (root, ip and nft; skipped otherwise)."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator

import pytest

from netpolicy import api
from netpolicy.lab import check_prerequisites, lab_down
from netpolicy.lab.verify import verify
from netpolicy.load import load_text
from netpolicy.model import Cluster

from .test_intents import ISSUE_EXAMPLE

pytestmark = pytest.mark.lab


def _netns() -> set[str]:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


@pytest.fixture
def prefix() -> Iterator[str]:
    problems = check_prerequisites()
    if problems:
        pytest.skip("packet lab unavailable: " + "; ".join(problems))
    name = f"np-g{secrets.token_hex(3)}-"
    yield name
    if any(n.startswith(name) for n in _netns()):
        lab_down(name)
        pytest.fail("the lab left network namespaces behind")


def _with_generated(ingress_only: bool) -> Cluster:
    demo = api.load_demo().cluster
    generated = api.generate(ISSUE_EXAMPLE, demo, ingress_only=ingress_only)
    assert generated.proof is not None and generated.proof.ok
    loaded = load_text(generated.text(), filename="generated.yaml")
    assert not [d for d in loaded.diagnostics if d.severity == "error"]
    kept = tuple(p for p in demo.policies if p.namespace not in generated.intents.namespaces)
    return Cluster(
        demo.namespaces, demo.pods, demo.workloads, kept + loaded.cluster.policies, demo.name
    )


@pytest.mark.parametrize("ingress_only", [False, True])
def test_lab_agrees_with_the_generated_policies(prefix: str, ingress_only: bool) -> None:
    report = verify(_with_generated(ingress_only), prefix=prefix)
    shown = [
        f"{o.src} -> {o.dst} {o.port}/{o.protocol}: expected {o.expected}, {o.detail}"
        for o in report.disagreements[:10]
    ]
    assert report.ok, "\n".join(shown)
    assert report.agreed == len(report.outcomes) > 0
    connected = {(o.src, o.dst, o.port, o.protocol) for o in report.outcomes if o.observed}
    # the intents, on real packets: frontend -> backend 8080, backend -> db 5432 (postgres)
    assert ("shop/frontend[Deployment]", "shop/backend[Deployment]", 8080, "TCP") in connected
    assert ("shop/backend[Deployment]", "payments/db[StatefulSet]", 5432, "TCP") in connected
    # and not what the demo allowed before: prometheus -> backend metrics, backend -> cart
    assert not any(
        src == "monitoring/prometheus[Deployment]" and dst == "shop/backend[Deployment]"
        for src, dst, _, _ in connected
    )
    assert not any(dst == "shop/cart[Deployment]" for _, dst, _, _ in connected)
