"""`netpolicy lint` over every scenario directory of the netpol-analyzer peer suite."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from netpolicy.analysis.lint import CHECK_IDS
from tests.cli._helpers import invoke


def test_lint_reads_every_scenario_without_a_traceback(peer_suite: Path) -> None:
    scenarios = sorted((peer_suite / "tests").iterdir())
    assert len(scenarios) > 300
    counts: Counter[str] = Counter()
    for scenario in scenarios:
        result = invoke("lint", str(scenario), "-o", "json", "--fail-on", "info")
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            scenario,
            result.exception,
        )
        # 0 clean, 1 findings (or objects the API server rejects), 2 nothing readable
        assert result.exit_code in (0, 1, 2), (scenario, result.output[-2000:])
        if result.exit_code == 2:
            continue
        report = json.loads(result.stdout)
        assert report["kind"] == "LintReport"
        for finding in report["findings"]:
            assert finding["check"] in CHECK_IDS
            assert finding["line"] >= 1, finding
            assert Path(finding["file"]).is_file(), finding
            counts[finding["check"]] += 1
    # the suite is full of real mistakes: DNS forgotten, namespaces left open, typos
    assert counts["dns-egress-blocked"] > 50
    assert counts["namespace-without-policies"] > 100
    assert counts["duplicate-object"] > 0
