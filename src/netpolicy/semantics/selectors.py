"""Label selectors, exactly as the Kubernetes API defines them."""

from __future__ import annotations

from collections.abc import Mapping

from netpolicy.model import LabelSelector, Requirement


def requirement_matches(req: Requirement, labels: Mapping[str, str]) -> bool:
    if req.operator == "In":
        # "In: the label value must be in the set of values"
        return req.key in labels and labels[req.key] in req.values
    if req.operator == "NotIn":
        # "NotIn: the label is absent, or its value is not in the set"
        return req.key not in labels or labels[req.key] not in req.values
    if req.operator == "Exists":
        return req.key in labels
    # DoesNotExist
    return req.key not in labels


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """matchLabels AND matchExpressions; "An empty label selector matches all objects"."""
    for key, value in selector.match_labels:
        if labels.get(key) != value:
            return False
    return all(requirement_matches(r, labels) for r in selector.match_expressions)
