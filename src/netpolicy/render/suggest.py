"""A Suggestion as YAML ready to apply, as text around it, and as plain data for JSON.

`explain ... --suggest -o json` adds to the Explanation document:

    "suggestion": {"status": "suggested" | "allowed" | "impossible", "reason": "...",
                   "deniedBy": ["egress", "ingress"],
                   "changes": [{"action": "addRule" | "newPolicy", "policy": "ns/name",
                                "rules": [{"direction": "ingress", "rule": {...}}],
                                "manifest": {...}, "patch": "kubectl ..." | null}],
                   "yaml": "---\\napiVersion: networking.k8s.io/v1\\n...",
                   "precise": true, "alsoOpens": [{"src", "dst", "ports"}],
                   "alsoOpensPairs": 0, "hints": ["..."], "notes": ["..."]}
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from netpolicy.generate import Change, Suggestion, policy_manifest
from netpolicy.generate.suggest import rule_manifest

SHOWN_EXTRA = 20
"""Connections the text lists of those a suggestion also opens (JSON lists all)."""


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order given, no `&id` anchors for repeated values."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def suggestion_yaml(suggestion: Suggestion) -> str:
    """The changed and new NetworkPolicies, one YAML document each, for `kubectl apply -f`."""
    docs = [policy_manifest(ch.policy) for ch in suggestion.changes]
    return yaml.dump_all(
        docs, Dumper=_Dumper, sort_keys=False, explicit_start=True, default_flow_style=False
    )


def patch_command(change: Change) -> str:
    """`kubectl patch` adding the rules to the live policy (keeps its labels and annotations,
    which the model does not carry)."""
    assert change.original is not None
    ops: list[dict[str, object]] = []
    for added in change.added:
        field = added.direction
        existing = change.original.ingress if field == "ingress" else change.original.egress
        value = rule_manifest(added)
        if existing:
            ops.append({"op": "add", "path": f"/spec/{field}/-", "value": value})
        else:
            ops.append({"op": "add", "path": f"/spec/{field}", "value": [value]})
    body = json.dumps(ops, separators=(",", ":"))
    return (
        f"kubectl -n {change.policy.namespace} patch networkpolicy {change.policy.name} "
        f"--type=json -p '{body}'"
    )


def _port(s: Suggestion) -> str:
    return f"{s.protocol} {s.port}"


def suggestion_to_dict(s: Suggestion) -> dict[str, object]:
    return {
        "status": s.status,
        "reason": s.reason,
        "deniedBy": list(s.denied_by),
        "changes": [
            {
                "action": ch.action,
                "policy": ch.policy.key,
                "rules": [{"direction": a.direction, "rule": rule_manifest(a)} for a in ch.added],
                "patch": patch_command(ch) if ch.original is not None else None,
                "manifest": policy_manifest(ch.policy),
            }
            for ch in s.changes
        ],
        "yaml": suggestion_yaml(s) if s.changes else "",
        "precise": s.precise,
        "alsoOpens": [
            {"src": c.src, "dst": c.dst, "ports": c.connections.to_contract()} for c in s.extra
        ],
        "alsoOpensPairs": s.extra_pairs,
        "hints": list(s.hints),
        "notes": list(s.notes),
    }


def render_suggestion_text(s: Suggestion) -> str:
    """The suggestion for people: what to change, what else it opens, then the YAML."""
    if s.status == "allowed":
        why = f" ({s.reason})" if s.reason else ""
        return f"\nSuggestion: nothing to change, the connection is allowed{why}\n"
    if s.status == "impossible":
        return f"\nSuggestion: none; {s.reason}\n"
    lines = [
        "",
        f"Suggested change (verified by re-analysis: {s.src} may then connect to {s.dst} "
        f"on {_port(s)})",
    ]
    for ch in s.changes:
        sides = " and ".join(
            "egress of the source" if d == "egress" else "ingress of the destination"
            for d in ch.directions
        )
        rules = " and ".join(f"an {d} rule" for d in ch.directions)
        if ch.original is not None:
            lines.append(
                f"  add {rules} to {ch.policy.key} (it isolates the {sides}); below the whole "
                f"policy as loaded with the rule{'s' if len(ch.added) > 1 else ''} added, "
                "or in place:"
            )
            lines.append(f"    {patch_command(ch)}")
        else:
            lines.append(f"  new NetworkPolicy {ch.policy.key} (for the {sides})")
    if s.precise:
        lines.append("  It opens nothing else.")
    else:
        count = len(s.extra)
        lines.append(
            f"  It also opens {count} other connection{'s' if count != 1 else ''} "
            f"({s.extra_pairs} pod pair{'s' if s.extra_pairs != 1 else ''}):"
        )
        lines += [
            f"    {c.src} => {c.dst} : {c.connections.describe()}" for c in s.extra[:SHOWN_EXTRA]
        ]
        if count > SHOWN_EXTRA:
            lines.append(f"    ... {count - SHOWN_EXTRA} more (-o json lists all)")
    lines += [f"  hint: {h}" for h in s.hints]
    lines += [f"  note: {n}" for n in s.notes]
    lines.append("")
    return "\n".join(lines) + "\n" + suggestion_yaml(s)
