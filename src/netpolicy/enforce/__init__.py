"""NetworkPolicy and cluster-wide guardrails enforced by nftables: a pure renderer and a small
side-effecting apply step."""

from netpolicy.enforce.nftables import DEFAULT_TABLE, RulesetOptions, render_ruleset

__all__ = ["DEFAULT_TABLE", "RulesetOptions", "render_ruleset"]
