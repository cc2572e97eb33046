"""Fixtures for the packet lab: skip without root/ip/nft, and never leave a namespace behind."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator

import pytest

from netpolicy.lab import Lab, LabPod, LabSpec, build_lab, check_prerequisites, lab_down


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


@pytest.fixture(scope="session")
def lab_prerequisites() -> None:
    problems = check_prerequisites()
    if problems:
        pytest.skip("packet lab unavailable: " + "; ".join(problems))


@pytest.fixture
def lab_prefix(lab_prerequisites: None) -> Iterator[str]:
    """A prefix unique to this test; whatever carries it is removed afterwards, pass or fail."""
    prefix = f"np-t{secrets.token_hex(3)}-"
    yield prefix
    leftovers = {name for name in netns_names() if name.startswith(prefix)}
    if leftovers:
        lab_down(prefix)
        pytest.fail(f"the test left namespaces behind: {sorted(leftovers)}")


@pytest.fixture
def make_lab(lab_prefix: str) -> Iterator[Callable[[tuple[LabPod, ...]], Lab]]:
    labs: list[Lab] = []

    def make(pods: tuple[LabPod, ...]) -> Lab:
        lab = build_lab(LabSpec(pods, prefix=lab_prefix))
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.teardown()
