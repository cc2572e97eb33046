"""NetworkPolicy objects made for an intent: `suggest` (the smallest change that allows one
denied connection), as model values and as manifests ready to apply."""

from netpolicy.generate.suggest import AddedRule, Change, Suggestion, policy_manifest, suggest

__all__ = ["AddedRule", "Change", "Suggestion", "policy_manifest", "suggest"]
