"""Owners whose pods are not all treated alike: listing them under one name would hide that.

`connlist --workloads` names a pod by its controller (`ns/name[ReplicaSet]`), taking the union
of what its pods may do. That is exact only while every pod of the owner is treated alike.
Pods of one owner usually share their labels, but not always (a rollout in progress, labels
edited by hand): netpol-analyzer then stops ("Found Pods of the same owner workload ... with
differences in their labels, while a network policy contains selectors impacted by this gap").
Here such an owner is listed pod by pod, with a warning that names it.

"Treated alike" is decided on the engine's result, not on the labels: the owner's classes
must allow the same towards every class and outside range outside the owner, and be allowed
the same from each. Labels that differ without any policy telling them apart (or with
policies that all end up allowing the same) keep the owner on one line, as netpol-analyzer's
goldens keep it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.classes import relevant_label_keys
from netpolicy.analysis.connectivity import Connectivity
from netpolicy.model import Diagnostic, Pod


def owner_name(pod: Pod) -> str | None:
    """The name `connlist --workloads` gives the pod's owner; None for an unowned pod."""
    if pod.owner is None:
        return None
    kind = f"[{pod.owner.kind}]" if pod.owner.kind else ""
    return f"{pod.namespace}/{pod.owner.name}{kind}"


def split_owners(result: Connectivity) -> tuple[set[str], list[Diagnostic]]:
    """The owners (as `owner_name` writes them) whose pods must be listed one by one, and a
    warning for each. Costs one pass over the rows only when some owner's pods fall into
    more than one class; nothing otherwise."""
    groups = _owner_classes(result)
    if not groups:
        return set(), []
    names = sorted(groups)
    members = [np.array(sorted(groups[name]), dtype=np.int64) for name in names]
    # Classes are cut by labels, not owners: a class of the owner may hold other pods too,
    # and what the owner's pods may do towards (and receive from) those still counts.
    only = [
        _only_owned(result, name, classes) for name, classes in zip(names, members, strict=True)
    ]
    outgoing = [_outgoing_differs(result, c, o) for c, o in zip(members, only, strict=True)]
    incoming = _incoming_differs(result, members, only)
    split: set[str] = set()
    warnings: list[Diagnostic] = []
    for name, classes, out, into in zip(names, members, outgoing, incoming, strict=True):
        if out or into:
            split.add(name)
            warnings.append(_warning(result, name, classes, outgoing=out, incoming=into))
    return split, warnings


def _owner_classes(result: Connectivity) -> dict[str, set[int]]:
    """Owners whose pods fall into more than one class, and those classes."""
    found: dict[str, set[int]] = {}
    for cls in result.classes:
        for pod in cls.pods:
            name = owner_name(pod)
            if name is not None:
                found.setdefault(name, set()).add(cls.index)
    return {name: classes for name, classes in found.items() if len(classes) > 1}


def _only_owned(result: Connectivity, name: str, classes: NDArray[np.int64]) -> NDArray[np.int64]:
    """The classes that hold no pod but the owner's."""
    return np.array(
        [c for c in classes if all(owner_name(p) == name for p in result.classes[int(c)].pods)],
        dtype=np.int64,
    )


def _outgoing_differs(
    result: Connectivity, classes: NDArray[np.int64], only: NDArray[np.int64]
) -> bool:
    """Whether the classes may open different things towards some class or outside range
    with a pod that is not the owner's (what its pods may open among themselves is never
    listed)."""
    rows = np.stack([result.row(int(c)) for c in classes])  # classes x endpoints x words
    keep = np.ones(rows.shape[1], dtype=bool)
    keep[only] = False
    rows = rows[:, keep]
    return bool((rows != rows[0]).any())


def _incoming_differs(
    result: Connectivity, members: list[NDArray[np.int64]], only: list[NDArray[np.int64]]
) -> list[bool]:
    """Per owner: whether some source with a pod that is not the owner's (or an outside
    range) may open different things towards its classes. Rows are made one source at a
    time; the pass ends once every owner differs."""
    differs = [False] * len(members)
    undecided = list(range(len(members)))
    n = len(result.classes)
    for source in range(n + len(result.outside)):
        if not undecided:
            break
        row = result.row(source) if source < n else result.outside_row(source - n)
        for i in undecided:
            if source < n and source in only[i]:
                continue
            entries = row[members[i]]
            differs[i] = bool((entries != entries[0]).any())
        undecided = [i for i in undecided if not differs[i]]
    return differs


def _warning(
    result: Connectivity, name: str, classes: NDArray[np.int64], *, outgoing: bool, incoming: bool
) -> Diagnostic:
    pods = sorted(
        (p for c in classes for p in result.classes[int(c)].pods if owner_name(p) == name),
        key=lambda p: p.name,
    )
    labels = [dict(p.labels) for p in pods]
    differing = {k for d in labels for k in d} - _shared_labels(labels)
    selected = differing & relevant_label_keys(result.evaluator.policies)
    keys = sorted(selected or differing)
    ways = " and ".join(
        w for w, on in (("what they may open", outgoing), ("what may reach them", incoming)) if on
    )
    shown = ", ".join(p.key for p in pods[:5])
    if len(pods) > 5:
        shown += f" and {len(pods) - 5} more"
    differ = f" (their labels differ in {', '.join(keys)})" if keys else ""
    return Diagnostic(
        "warning",
        f"the pods of {name} are not all treated alike: {ways} differs{differ}; "
        f"listed pod by pod: {shown}",
        pods[0].source,
        "owner-split",
    )


def _shared_labels(labels: list[dict[str, str]]) -> set[str]:
    """Label keys every pod has with the same value."""
    first = labels[0]
    return {k for k, v in first.items() if all(d.get(k) == v for d in labels[1:])}
