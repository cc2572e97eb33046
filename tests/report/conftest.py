"""Reports written to a temporary folder and a headless Chromium driven by Playwright.

Chromium is Debian's (`apt-get install chromium`, as .ci/run does); Playwright for Python
drives it through `executable_path` and never downloads a browser.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netpolicy import api
from netpolicy.model import Cluster
from netpolicy.render.report import render_report

CHROMIUM = os.environ.get("NETPOLICY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
"""Screenshots kept after the run (ignored by git)."""


def write_report(cluster: Cluster, path: Path, description: str = "test") -> Path:
    data = api.report(cluster, description=description)
    path.write_text("".join(render_report(data)), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: apt-get install -y chromium (the browser tests need it)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Opened:
    """A report open in a page, with what went wrong while it ran."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None,
        )
        page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: Path, timeout: float = 30_000) -> Opened:
        self.page.goto(path.as_uri())
        self.page.wait_for_function(
            "() => window.netpolicyReport && window.netpolicyReport.ready", timeout=timeout
        )
        return self

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)


@pytest.fixture
def open_report(browser: Any) -> Iterator[Callable[[Path], Opened]]:
    pages: list[Any] = []

    def opener(path: Path) -> Opened:
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        pages.append(page)
        return Opened(page).open(path)

    yield opener
    for page in pages:
        page.close()
