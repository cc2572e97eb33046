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

from collections.abc import Set as AbstractSet

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.classes import relevant_label_keys
from netpolicy.analysis.connectivity import Connectivity, Mask
from netpolicy.analysis.salts import salts
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
    outgoing, incoming = _differences(result, members, only)
    split: set[str] = set()
    warnings: list[Diagnostic] = []
    relevant = relevant_label_keys(result.evaluator.policies) if any(outgoing + incoming) else set()
    for name, classes, out, into in zip(names, members, outgoing, incoming, strict=True):
        if out or into:
            split.add(name)
            warnings.append(_warning(result, name, classes, relevant, outgoing=out, incoming=into))
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


_SALT = salts(20261203, (2, 2, 64))


def _mixed(masks: Mask, salts: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """2 x len(masks): two independent 64-bit hashes of each (entry position, mask) pair,
    `salts` (2 x len(masks)) naming the positions. Summed over a row (or a column) they
    name it: two rows with different entries collide with probability 2**-128."""
    out = salts.copy()
    for w in range(masks.shape[1]):
        out ^= masks[:, w]
        out *= _SALT[0, :, w % 64, None]
        out ^= out >> np.uint64(29)
        out *= _SALT[1, :, w % 64, None]
        out ^= out >> np.uint64(32)
    return out


def _differences(
    result: Connectivity, members: list[NDArray[np.int64]], only: list[NDArray[np.int64]]
) -> tuple[list[bool], list[bool]]:
    """Per owner: whether its classes may open different things towards some class or
    outside range with a pod that is not the owner's (what its pods may open among
    themselves is never listed), and whether some such source may open different things
    towards its classes.

    One pass over every source's row: each entry is hashed with its position, rows are
    summed per source and columns per destination, and the owner's own classes are taken
    out again by subtracting their terms."""
    n, e = len(result.classes), len(result.outside)
    total = n + e
    out_salt = salts(7, (2, total))
    in_salt = salts(8, (2, total))
    owners_of: dict[int, list[int]] = {}  # class -> the owners it belongs to
    for o, classes in enumerate(members):
        for c in classes.tolist():
            owners_of.setdefault(c, []).append(o)
    excluded_by: dict[int, list[int]] = {}  # class -> the owners that hold it alone
    for o, classes in enumerate(only):
        for c in classes.tolist():
            excluded_by.setdefault(c, []).append(o)
    watched = np.array(sorted(owners_of), dtype=np.int64)
    rows_out = {o: np.zeros((2, len(m)), dtype=np.uint64) for o, m in enumerate(members)}
    cols_in = np.zeros((2, total), dtype=np.uint64)
    # per owner, the terms of its own sources in its columns (a column may belong to several
    # owners: each takes out only its own sources)
    own_in = {o: np.zeros((2, len(m)), dtype=np.uint64) for o, m in enumerate(members)}
    with np.errstate(over="ignore"):
        for source in range(total):
            row = result.row(source) if source < n else result.outside_row(source - n)
            into = _mixed(row[watched], np.repeat(in_salt[:, source : source + 1], len(watched), 1))
            cols_in[:, watched] += into
            for o in excluded_by.get(source, ()):
                # a source of the owner's own: what it opens towards the owner is not listed
                own_in[o] += into[:, np.searchsorted(watched, members[o])]
            if source in owners_of:
                terms = _mixed(row, out_salt)
                whole = terms.sum(axis=1, dtype=np.uint64)
                for o in owners_of[source]:
                    k = int(np.searchsorted(members[o], source))
                    rows_out[o][:, k] = whole - terms[:, only[o]].sum(axis=1, dtype=np.uint64)
    outgoing = [bool((rows_out[o] != rows_out[o][:, :1]).any()) for o in range(len(members))]
    incoming = []
    for o, classes in enumerate(members):
        block = cols_in[:, classes] - own_in[o]
        incoming.append(bool((block != block[:, :1]).any()))
    return outgoing, incoming


def _warning(
    result: Connectivity,
    name: str,
    classes: NDArray[np.int64],
    relevant: AbstractSet[str],
    *,
    outgoing: bool,
    incoming: bool,
) -> Diagnostic:
    pods = sorted(
        (p for c in classes for p in result.classes[int(c)].pods if owner_name(p) == name),
        key=lambda p: p.name,
    )
    labels = [dict(p.labels) for p in pods]
    differing = {k for d in labels for k in d} - _shared_labels(labels)
    selected = differing & relevant
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
