"""Hand-built lint reports: the renderers are tested without running any check."""

from __future__ import annotations

from netpolicy.analysis.lint import CHECKS, Finding, LintReport
from netpolicy.model import SourceRef

DNS_FIX = """\
egress:
  - to:
      - namespaceSelector: {}
        podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports:
      - {port: 53, protocol: UDP}
      - {port: 53, protocol: TCP}
"""


def sample_findings() -> list[Finding]:
    """One finding of each severity, in two files, one without a line, given out of order."""
    return [
        Finding(
            "dns-egress-blocked",
            "warning",
            "shop/backend-egress",
            "NetworkPolicy",
            SourceRef("demo/shop.yaml", 41),
            "shop/backend cannot resolve names: no egress rule allows UDP/TCP 53",
            DNS_FIX,
        ),
        Finding(
            "namespace-without-policies",
            "info",
            "monitoring",
            "Namespace",
            SourceRef("demo/shop.yaml", 0),
            "every pod of monitoring accepts connections from everywhere",
            "Add a default deny for ingress.",
        ),
        Finding(
            "duplicate-object",
            "error",
            "q/allow-web",
            "NetworkPolicy",
            SourceRef("policies/web.yaml", 12),
            "q/allow-web is given twice; the later definition replaces this one",
            "Rename one of them or merge them.",
        ),
    ]


def sample_report() -> LintReport:
    return LintReport(sample_findings(), CHECKS)


def empty_report() -> LintReport:
    return LintReport([], CHECKS)
