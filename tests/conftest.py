"""Shared fixtures: where the peer suites live (beside the repository, never copied into it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

# CI machines are shared and slow at times: never fail a property for the time it takes.
settings.register_profile(
    "netpolicy", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("netpolicy")


def shared_dir() -> Path | None:
    """`$NETPOLICY_SHARED`, else `<repo>/../shared`; None when absent."""
    env = os.environ.get("NETPOLICY_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for c in candidates:
        if (c / "peer-suites").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def peer_suite() -> Path:
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared/peer-suites is absent (set NETPOLICY_SHARED to its folder)")
    return shared / "peer-suites" / "netpol-analyzer"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite golden files (e.g. tests/enforce/golden/*.nft) instead of comparing.",
    )


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when goldens are to be rewritten: --update-goldens or NETPOLICY_UPDATE_GOLDENS=1."""
    flag = bool(request.config.getoption("--update-goldens"))
    return flag or os.environ.get("NETPOLICY_UPDATE_GOLDENS") == "1"
