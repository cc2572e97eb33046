"""Selectors and peers evaluated on many pods at once.

The same rules as `selectors.py` and `compile.py`, applied by table lookup: each
requirement is decided with `requirement_matches` once per value it lists, once for any
other value and once for the label's absence; namespace selectors the same way over the
namespaces' labels; ipBlocks by binary search over the pods' addresses; and the answers are
spread over every pod with NumPy indexing. Property tests check both paths agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from netpolicy.model import LabelSelector, Requirement
from netpolicy.semantics.compile import CompiledPeer, CompiledPolicy, PodInfo
from netpolicy.semantics.intervals import IntervalSet
from netpolicy.semantics.selectors import requirement_matches
from netpolicy.semantics.tiers import CompiledAdminPeer, CompiledClusterPolicy

Mask = NDArray[np.bool_]
_INT64_MAX = (1 << 63) - 1
_UNLISTED = "\x00"
"""Not a valid label value, so never among a requirement's values."""


class PodColumns:
    """Many pods (typically one representative per class) as columns of label codes."""

    def __init__(self, pods: Sequence[PodInfo]) -> None:
        self.pods = list(pods)
        self.n = len(self.pods)
        self.namespaces: list[str] = sorted({p.namespace for p in self.pods})
        ns_pos = {name: i for i, name in enumerate(self.namespaces)}
        self.namespace_index = np.fromiter(
            (ns_pos[p.namespace] for p in self.pods), dtype=np.int32, count=self.n
        )
        self._namespace_labels: dict[str, Mapping[str, str]] = {}
        for p in self.pods:
            self._namespace_labels.setdefault(p.namespace, p.namespace_labels)
        self.host_network = np.fromiter(
            (p.host_network for p in self.pods), dtype=bool, count=self.n
        )
        self._codes: dict[str, tuple[NDArray[np.int32], dict[str, int]]] = {}
        self._cache: dict[object, Mask] = {}
        self._namespaces: PodColumns | None = None
        self._addresses: NDArray[np.int64] | None = None

    def _column(self, key: str) -> tuple[NDArray[np.int32], dict[str, int]]:
        """Per pod, the code of its value for `key` (0 when absent), and value -> code."""
        found = self._codes.get(key)
        if found is None:
            vocab: dict[str, int] = {}
            codes = np.zeros(self.n, dtype=np.int32)
            for i, p in enumerate(self.pods):
                value = p.labels.get(key)
                if value is not None:
                    codes[i] = vocab.setdefault(value, len(vocab) + 1)
            found = (codes, vocab)
            self._codes[key] = found
        return found

    def requirement_mask(self, req: Requirement) -> Mask:
        codes, vocab = self._column(req.key)
        # A requirement tells label values apart only by whether they are among its values:
        # decide the key's absence, one value outside them, and each of them.
        table = np.full(len(vocab) + 1, requirement_matches(req, {req.key: _UNLISTED}))
        table[0] = requirement_matches(req, {})
        for value in req.values:
            code = vocab.get(value)
            if code is not None:
                table[code] = requirement_matches(req, {req.key: value})
        return table[codes]

    def pod_selector_mask(self, selector: LabelSelector) -> Mask:
        key = ("pod", selector)
        found = self._cache.get(key)
        if found is None:
            found = np.ones(self.n, dtype=bool)
            for k, v in selector.match_labels:
                found &= self.requirement_mask(Requirement(k, "In", (v,)))
            for req in selector.match_expressions:
                found &= self.requirement_mask(req)
            self._cache[key] = found
        return found

    def namespace_selector_mask(self, selector: LabelSelector) -> Mask:
        key = ("ns", selector)
        found = self._cache.get(key)
        if found is None:
            found = self._namespace_columns().pod_selector_mask(selector)[self.namespace_index]
            self._cache[key] = found
        return found

    def _namespace_columns(self) -> PodColumns:
        """The namespaces as columns of their labels: namespace selectors by table lookup."""
        if self._namespaces is None:
            self._namespaces = PodColumns(
                [PodInfo(n, n, self._namespace_labels[n], {}) for n in self.namespaces]
            )
        return self._namespaces

    def in_namespace(self, namespace: str) -> Mask:
        try:
            i = self.namespaces.index(namespace)
        except ValueError:
            return np.zeros(self.n, dtype=bool)
        return self.namespace_index == i

    def address_mask(self, addresses: IntervalSet) -> Mask:
        key = ("ip", addresses)
        found = self._cache.get(key)
        if found is None:
            values = self._address_values()
            if values is None:  # an address beyond int64 (IPv6): one by one
                found = np.fromiter(
                    (p.address is not None and p.address in addresses for p in self.pods),
                    dtype=bool,
                    count=self.n,
                )
            else:
                # the ranges are sorted and disjoint: the one starting at or before an address
                # holds it if it ends at or after it (no address is -1)
                ranges = [(lo, min(hi, _INT64_MAX)) for lo, hi in addresses if lo <= _INT64_MAX]
                found = np.zeros(self.n, dtype=bool)
                if ranges:
                    los = np.array([lo for lo, _ in ranges], dtype=np.int64)
                    his = np.array([hi for _, hi in ranges], dtype=np.int64)
                    at = np.searchsorted(los, values, side="right") - 1
                    found = (at >= 0) & (values <= his[np.maximum(at, 0)]) & (values >= 0)
            self._cache[key] = found
        return found

    def _address_values(self) -> NDArray[np.int64] | None:
        """Each pod's address (-1 without one), or None when some address exceeds int64."""
        if self._addresses is None:
            values = [-1 if p.address is None else p.address for p in self.pods]
            if any(v > _INT64_MAX for v in values):
                return None
            self._addresses = np.array(values, dtype=np.int64)
        return self._addresses

    def selected_by(self, policy: CompiledPolicy) -> Mask:
        """`CompiledPolicy.selects` for every pod."""
        return (
            self.in_namespace(policy.policy.namespace)
            & self.pod_selector_mask(policy.policy.pod_selector)
            & ~self.host_network
        )

    def matched_by(self, peer: CompiledPeer) -> Mask:
        """`CompiledPeer.matches_pod` for every pod."""
        spec = peer.peer
        if spec is None:
            return np.ones(self.n, dtype=bool)
        if spec.ip_block is not None:
            return self.address_mask(peer.addresses)
        if spec.namespace_selector is not None:
            mask = self.namespace_selector_mask(spec.namespace_selector)
        else:
            mask = self.in_namespace(peer.policy_namespace)
        if spec.pod_selector is not None:
            mask = mask & self.pod_selector_mask(spec.pod_selector)
        return mask & ~self.host_network

    def subjects_of(self, policy: CompiledClusterPolicy) -> Mask:
        """`CompiledClusterPolicy.selects` for every pod."""
        mask = self.namespace_selector_mask(policy.policy.namespace_selector) & ~self.host_network
        if policy.policy.pod_selector is not None:
            mask = mask & self.pod_selector_mask(policy.policy.pod_selector)
        return mask

    def matched_by_admin(self, peer: CompiledAdminPeer) -> Mask:
        """`CompiledAdminPeer.matches_pod` for every pod."""
        if peer.is_network:
            return self.address_mask(peer.addresses)
        spec = peer.peer
        if spec.namespace_selector is None:
            return np.zeros(self.n, dtype=bool)
        mask = self.namespace_selector_mask(spec.namespace_selector) & ~self.host_network
        if spec.pod_selector is not None:
            mask = mask & self.pod_selector_mask(spec.pod_selector)
        return mask
