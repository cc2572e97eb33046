"""Equivalence classes of pods: pods no policy can tell apart share one class."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from netpolicy.model import Pod
from netpolicy.semantics import (
    CompiledPolicy,
    Evaluator,
    IntervalSet,
    PodInfo,
    address_atoms,
    address_value,
)
from netpolicy.semantics.tiers import Tiers


@dataclass(slots=True)
class PodClass:
    """Pods that every selector, named port and ipBlock of the input treats alike."""

    index: int
    representative: PodInfo
    pods: list[Pod]


def relevant_label_keys(policies: tuple[CompiledPolicy, ...]) -> frozenset[str]:
    """Every pod label key some pod selector looks at."""
    keys: set[str] = set()
    for cp in policies:
        keys |= cp.policy.pod_selector.keys()
        for rule in (*cp.ingress, *cp.egress):
            for peer in rule.peers:
                if peer.peer is not None and peer.peer.pod_selector is not None:
                    keys |= peer.peer.pod_selector.keys()
    return frozenset(keys)


def relevant_port_names(policies: tuple[CompiledPolicy, ...]) -> frozenset[str]:
    names: set[str] = set()
    for cp in policies:
        for rule in (*cp.ingress, *cp.egress):
            names.update(str(p.port.port) for p in rule.ports if p.is_named)
    return frozenset(names)


def ip_block_sets(policies: tuple[CompiledPolicy, ...]) -> list[IntervalSet]:
    seen: dict[IntervalSet, None] = {}
    for cp in policies:
        for rule in (*cp.ingress, *cp.egress):
            for peer in rule.peers:
                if peer.is_ip_block:
                    seen.setdefault(peer.addresses, None)
    return list(seen)


def tier_label_keys(tiers: Tiers) -> frozenset[str]:
    """Every pod label key a cluster-wide subject or peer selector looks at (namespaces are
    told apart by the class key already)."""
    keys: set[str] = set()
    for cp in tiers.all:
        if cp.policy.pod_selector is not None:
            keys |= cp.policy.pod_selector.keys()
        for rule in (*cp.ingress, *cp.egress):
            for peer in rule.peers:
                if peer.peer.pod_selector is not None:
                    keys |= peer.peer.pod_selector.keys()
    return frozenset(keys)


def tier_port_names(tiers: Tiers) -> frozenset[str]:
    return frozenset(
        str(p.port)
        for cp in tiers.all
        for rule in (*cp.ingress, *cp.egress)
        for p in rule.ports
        if isinstance(p.port, str)
    )


def tier_network_sets(tiers: Tiers) -> list[IntervalSet]:
    seen: dict[IntervalSet, None] = {}
    for cp in tiers.all:
        for rule in (*cp.ingress, *cp.egress):
            for peer in rule.peers:
                if peer.is_network:
                    seen.setdefault(peer.addresses, None)
    return list(seen)


def build_classes(evaluator: Evaluator, pods: list[Pod]) -> list[PodClass]:
    """Group pods by namespace, the label values selectors use, named ports and ipBlock hits
    (the selectors, named ports and networks of cluster-wide policies included)."""
    policies = evaluator.policies
    keys = relevant_label_keys(policies)
    port_names = relevant_port_names(policies)
    blocks = ip_block_sets(policies)
    if evaluator.tiers:
        keys |= tier_label_keys(evaluator.tiers)
        port_names |= tier_port_names(evaluator.tiers)
        blocks = list(dict.fromkeys([*blocks, *tier_network_sets(evaluator.tiers)]))
    block_starts, block_ids = _block_memberships(blocks)
    by_key: dict[tuple[object, ...], PodClass] = {}
    classes: list[PodClass] = []
    for pod in pods:
        label_key = tuple((k, v) for k, v in pod.labels if k in keys)
        port_key = (
            tuple(sorted((p.name, p.protocol, p.port) for p in pod.ports if p.name in port_names))
            if port_names
            else ()
        )
        block_key = -1
        if blocks and pod.ip:
            try:
                address = address_value(pod.ip)
            except ValueError:
                pass
            else:
                block_key = block_ids[bisect_right(block_starts, address) - 1]
        key = (pod.namespace, pod.host_network, label_key, port_key, block_key)
        cls = by_key.get(key)
        if cls is None:
            cls = PodClass(len(classes), evaluator.pod_info(pod), [])
            by_key[key] = cls
            classes.append(cls)
        cls.pods.append(pod)
    return classes


def _block_memberships(blocks: list[IntervalSet]) -> tuple[list[int], list[int]]:
    """The address space cut by the ipBlocks: each piece's first address and an id for the
    blocks that contain it (pieces inside the same blocks share an id)."""
    if not blocks:
        return [], []
    starts = [piece.ranges[0][0] for piece in address_atoms(blocks, ipv6=True)]
    # one bit per block for each piece; the pieces lie wholly inside or outside each block,
    # so a range of a block covers the pieces that start in it
    member = np.zeros((len(starts), (len(blocks) + 7) // 8), dtype=np.uint8)
    for b, block in enumerate(blocks):
        byte, bit = b >> 3, np.uint8(1 << (b & 7))
        for lo, hi in block.ranges:
            member[bisect_left(starts, lo) : bisect_right(starts, hi), byte] |= bit
    rows = np.ascontiguousarray(member).view(np.dtype((np.void, member.shape[1]))).ravel()
    _, ids = np.unique(rows, return_inverse=True)
    return starts, ids.ravel().tolist()
