"""Which cluster-wide policies the API leaves in undefined order: one decision, used by the
loader's warning and by lint's `same-priority-overlap`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netpolicy.model import ClusterPolicy, LabelSelector, Requirement


@dataclass(frozen=True, slots=True)
class PriorityOverlap:
    """Two policies of one tier with one priority that can select the same pods in
    `directions`, each a direction both have rules for; `first` comes first in the input."""

    first: ClusterPolicy
    later: ClusterPolicy
    directions: tuple[str, ...]


def same_priority_overlaps(policies: Iterable[ClusterPolicy]) -> list[PriorityOverlap]:
    """Every pair of policies whose order the API leaves undefined: "the implementation can
    apply any of the matching policies to the connection"."""
    by_rank: dict[tuple[str, int], list[ClusterPolicy]] = {}
    for policy in policies:
        by_rank.setdefault((policy.tier, policy.priority), []).append(policy)
    out: list[PriorityOverlap] = []
    for group in by_rank.values():
        for i, first in enumerate(group):
            for later in group[i + 1 :]:
                if not can_select_the_same_pods(first, later):
                    continue
                directions = tuple(
                    d for d in ("ingress", "egress") if getattr(first, d) and getattr(later, d)
                )
                if directions:
                    out.append(PriorityOverlap(first, later, directions))
    return out


def can_select_the_same_pods(a: ClusterPolicy, b: ClusterPolicy) -> bool:
    """Whether some namespace and pod could be a subject of both (selectors jointly
    satisfiable), whatever pods the input holds."""
    pods_a = a.pod_selector or LabelSelector()
    pods_b = b.pod_selector or LabelSelector()
    return _satisfiable(a.namespace_selector, b.namespace_selector) and _satisfiable(pods_a, pods_b)


def _satisfiable(*selectors: LabelSelector) -> bool:
    """Whether one label set can match every selector: per key, the requirements must agree."""
    per_key: dict[str, list[Requirement]] = {}
    for selector in selectors:
        for key, value in selector.match_labels:
            per_key.setdefault(key, []).append(Requirement(key, "In", (value,)))
        for req in selector.match_expressions:
            per_key.setdefault(req.key, []).append(req)
    for reqs in per_key.values():
        present = any(r.operator in ("In", "Exists") for r in reqs)
        absent = any(r.operator == "DoesNotExist" for r in reqs)
        if present and absent:
            return False
        allowed: set[str] | None = None
        for r in reqs:
            if r.operator == "In":
                allowed = set(r.values) if allowed is None else allowed & set(r.values)
        if allowed is not None:
            excluded = {v for r in reqs if r.operator == "NotIn" for v in r.values}
            if not allowed - excluded:
                return False
    return True
