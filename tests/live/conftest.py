"""A served cluster per test: `serve(Behaviour(...))` starts the API server, stops it after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.live.apiserver import APIServer, Behaviour, objects_of

DATA = Path(__file__).resolve().parent / "data"
CLUSTER = DATA / "cluster.yaml"


@pytest.fixture(scope="session")
def objects() -> list[dict[str, Any]]:
    return objects_of(CLUSTER)


@pytest.fixture
def serve(objects: list[dict[str, Any]], tmp_path: Path) -> Iterator[Callable[..., APIServer]]:
    """`serve(behaviour=None, objects=None)`: a running server (stopped after the test)."""
    with ExitStack() as stack:
        count = 0

        def start(
            behaviour: Behaviour | None = None, served: list[dict[str, Any]] | None = None
        ) -> APIServer:
            nonlocal count
            count += 1
            directory = tmp_path / f"server{count}"
            directory.mkdir()
            server = APIServer(objects if served is None else served, directory, behaviour)
            return stack.enter_context(server)

        yield start
