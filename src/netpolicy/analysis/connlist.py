"""The connection list: allowed connections between named endpoints (pods, workloads, ranges)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.arrays import ragged_ranges, run_starts
from netpolicy.analysis.connectivity import Connectivity, Mask
from netpolicy.analysis.owners import owner_name
from netpolicy.model import Diagnostic, Pod
from netpolicy.semantics import ConnectionSet, IntervalSet, format_range


@dataclass(frozen=True, slots=True)
class Connection:
    """Allowed traffic from `src` to `dst` (endpoint names as the output contract writes them)."""

    src: str
    dst: str
    connections: ConnectionSet


def pod_name(pod: Pod, workloads: bool) -> str:
    """`ns/name` for a pod, `ns/name[Kind]` for a workload's stand-in (or owner, on request)."""
    if pod.from_template and pod.owner is not None:
        return f"{pod.namespace}/{pod.owner.name}[{pod.owner.kind}]"
    if workloads and pod.owner is not None:
        if not pod.owner.kind:
            return f"{pod.namespace}/{pod.owner.name}"
        return f"{pod.namespace}/{pod.owner.name}[{pod.owner.kind}]"
    return f"{pod.namespace}/{pod.name}"


def endpoint_name(endpoint: Pod | IntervalSet, workloads: bool) -> str:
    if isinstance(endpoint, IntervalSet):
        lo, hi = endpoint.ranges[0]
        return format_range(lo, hi)
    return pod_name(endpoint, workloads)


def endpoint_columns(
    result: Connectivity, workloads: bool, split: Collection[str] = ()
) -> list[list[str]]:
    """The endpoint names in each class, then of each outside range (sorted, distinct)."""
    columns: list[list[str]] = [
        sorted({pod_name(p, workloads and owner_name(p) not in split) for p in c.pods})
        for c in result.classes
    ]
    columns += [[endpoint_name(r, workloads)] for r in result.outside]
    return columns


def _matches_focus(name: str, focus: str) -> bool:
    """`ns/name` focus matches a pod or a workload of that name (with any kind suffix)."""
    base = name.split("[", 1)[0]
    if "/" in focus:
        return focus in (base, name)
    return base.split("/", 1)[-1] == focus


Row = tuple[int, NDArray[np.int64], NDArray[np.int64]]
"""One source endpoint (index into `names`), its destinations (ascending) and port-set ids."""

ROW_CACHE_BYTES = 128 << 20
"""Endpoint rows kept for reuse (pods of one class share theirs)."""


class ConnectionRows:
    """The allowed connections, one row per source endpoint, in (src, dst) name order.

    Nothing here grows with the number of connections: rows are made from the engine's class
    relation while they are iterated. `names` are the endpoints (pods or workloads, and outside
    ranges); `port_sets[i]` is the ConnectionSet of port-set id i (ids are handed out as rows
    are made, so read it after the row that uses an id).
    """

    def __init__(
        self,
        result: Connectivity,
        *,
        workloads: bool = False,
        focus: str | None = None,
        namespace: str | None = None,
        split: Collection[str] = (),
        columns: list[list[str]] | None = None,
        self_pairs: bool = False,
    ) -> None:
        """`split`: owners (as `owners.owner_name` writes them) listed pod by pod even with
        `workloads`. `columns`: the endpoint names of each class and outside range, instead
        of the pods' and ranges' own (to make rows of other entities, as the grouped view
        does). `self_pairs`: keep an endpoint's traffic to itself (never listed)."""
        self.result = result
        self.warnings: list[Diagnostic] = []
        n = len(result.classes)
        if columns is None:
            columns = endpoint_columns(result, workloads, split)
        self.columns = columns
        self.names: list[str] = sorted({name for names in columns for name in names})
        index = {name: i for i, name in enumerate(self.names)}
        pairs = sorted({(index[name], col) for col, names in enumerate(columns) for name in names})
        self._entity = np.array([e for e, _ in pairs], dtype=np.int64)
        self._column = np.array([c for _, c in pairs], dtype=np.int64)
        self._starts = run_starts(self._entity)
        self._bounds = np.append(self._starts, len(pairs))
        # the same incidences by column, for sparse rows
        self._column_order = np.argsort(self._column, kind="stable")
        self._by_column = np.searchsorted(
            self._column[self._column_order], np.arange(len(columns) + 1)
        )
        self._n = n
        self._self_pairs = self_pairs
        self.port_sets: list[ConnectionSet] = []
        self._ids: dict[bytes, int] = {}
        # a pair is listed when either end matches each filter given
        self._filters: list[NDArray[np.bool_]] = []
        if focus is not None:
            self._filters.append(np.array([_matches_focus(x, focus) for x in self.names], bool))
        if namespace is not None:
            prefix = namespace + "/"
            self._filters.append(np.array([x.startswith(prefix) for x in self.names], bool))
        self.matched = all(f.any() for f in self._filters) and bool(self.names)

    def columns_of(self, endpoint: int) -> NDArray[np.int64]:
        return self._column[self._bounds[endpoint] : self._bounds[endpoint + 1]]

    def _class_row(self, column: int) -> Mask:
        if column < self._n:
            return self.result.row(column)
        return self.result.outside_row(column - self._n)

    def _endpoint_row(self, columns: NDArray[np.int64]) -> tuple[NDArray[np.int64], Mask]:
        """The endpoints an endpoint made of `columns` may open connections to (ascending, not
        yet filtered), and the ports towards each."""
        row = self._class_row(int(columns[0]))
        for c in columns[1:]:
            row |= self._class_row(int(c))
        hit = np.flatnonzero(row.any(axis=1))
        if len(hit) * 8 < len(row):
            # sparse (an isolated source): only the incidences of the columns it reaches
            lo, hi = self._by_column[hit], self._by_column[hit + 1]
            positions = self._column_order[ragged_ranges(lo, hi - lo)]
            positions.sort()  # incidences are in endpoint order
            entities = self._entity[positions]
            if not len(entities):
                return entities, row[:0]
            starts = run_starts(entities)
            masks = np.bitwise_or.reduceat(row[self._column[positions]], starts, axis=0)
            return entities[starts], masks
        masks = np.bitwise_or.reduceat(row[self._column], self._starts, axis=0)
        reached = np.flatnonzero(masks.any(axis=1))
        return reached, masks[reached]

    def _port_ids(self, masks: Mask) -> NDArray[np.int64]:
        """The id of each distinct mask, handing out new ids (and their ConnectionSets)."""
        uniq, inverse = _distinct_rows(masks)
        ids = np.empty(len(uniq), dtype=np.int64)
        for i, u in enumerate(uniq):
            key = u.tobytes()
            found = self._ids.get(key)
            if found is None:
                found = self._ids[key] = len(self.port_sets)
                self.port_sets.append(self.result.atoms.connections(u.copy()))
            ids[i] = found
        return ids[inverse]

    def _row_key(self, columns: NDArray[np.int64]) -> bytes:
        """Equal for endpoints with equal rows: their columns, or for one outside range the
        ingress signature its row is made from (ranges with one signature share it)."""
        if len(columns) == 1 and columns[0] >= self._n:
            return b"s" + self.result.outside_key(int(columns[0]) - self._n).to_bytes(8, "little")
        return columns.tobytes()

    def __iter__(self) -> Iterator[Row]:
        # rows shared by several endpoints: destinations, then the port-set ids of the whole
        # row (made once) or, when filters keep only parts of rows, the masks to make the
        # ids of each part from
        cache: OrderedDict[bytes, tuple[NDArray[np.int64], Mask | NDArray[np.int64]]]
        cache = OrderedDict()
        held = 0
        whole = not self._filters
        for src in range(len(self.names)):
            columns = self.columns_of(src)
            key = self._row_key(columns)
            found = cache.get(key)
            if found is None:
                dsts, masks = self._endpoint_row(columns)
                found = cache[key] = dsts, self._port_ids(masks) if whole and len(dsts) else masks
                held += dsts.nbytes + found[1].nbytes
                while held > ROW_CACHE_BYTES and len(cache) > 1:
                    gone = cache.popitem(last=False)[1]
                    held -= gone[0].nbytes + gone[1].nbytes
            else:
                cache.move_to_end(key)
            dsts, ids_or_masks = found
            if whole:
                keep = None if self._self_pairs else dsts != src
                ids = cast(NDArray[np.int64], ids_or_masks)
                if keep is None:
                    if len(dsts):
                        yield src, dsts, ids
                elif keep.any():
                    yield src, dsts[keep], ids[keep]
                continue
            keep = np.ones(len(dsts), dtype=bool) if self._self_pairs else dsts != src
            for wanted in self._filters:
                if not wanted[src]:
                    keep &= wanted[dsts]
            if keep.any():
                yield src, dsts[keep], self._port_ids(cast(Mask, ids_or_masks)[keep])

    def row(self, src: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """One endpoint's destinations and port-set ids, unfiltered, its own traffic kept."""
        dsts, masks = self._endpoint_row(self.columns_of(src))
        return dsts, self._port_ids(masks) if len(dsts) else dsts

    def connections(self) -> Iterator[Connection]:
        """The rows as Connection values (for small answers and tests)."""
        for src, dsts, ids in self:
            name = self.names[src]
            for d, i in zip(dsts.tolist(), ids.tolist(), strict=True):
                yield Connection(name, self.names[d], self.port_sets[i])


_FEW_ROWS = 48
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def _distinct_rows(masks: Mask) -> tuple[Mask, NDArray[np.int64]]:
    """The distinct rows of `masks` and, for each row, the index of its distinct row.

    Rows are told apart by a 64-bit fingerprint first (a sort of integers, not of byte
    strings); the fingerprint is then checked against the rows themselves, and only a
    collision (never seen) falls back to comparing whole rows. A few rows are told apart by
    their bytes (cheaper than the array calls)."""
    if len(masks) <= _FEW_ROWS:
        seen: dict[bytes, int] = {}
        inverse = np.array([seen.setdefault(m.tobytes(), len(seen)) for m in masks], dtype=np.int64)
        first = np.zeros(len(seen), dtype=np.int64)
        first[inverse] = np.arange(len(masks))  # any row of each key stands for it
        return masks[first], inverse
    if masks.shape[1] == 1:
        uniq, inverse = np.unique(masks[:, 0], return_inverse=True)
        return uniq.reshape(-1, 1), inverse.ravel()
    fingerprint = np.zeros(len(masks), dtype=np.uint64)
    for w in range(masks.shape[1]):
        fingerprint = (fingerprint ^ masks[:, w]) * _MIX[w % len(_MIX)]
    _, first, inverse = np.unique(fingerprint, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if np.array_equal(masks[first][inverse], masks):
        return masks[first], inverse
    flat = np.ascontiguousarray(masks).view(np.dtype((np.void, masks.shape[1] * 8))).ravel()
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    return masks[first], inverse.ravel()


def connection_list(
    result: Connectivity,
    *,
    workloads: bool = False,
    focus: str | None = None,
    namespace: str | None = None,
) -> list[Connection]:
    """Allowed connections, aggregated per endpoint name, sorted by (src, dst)."""
    rows = ConnectionRows(result, workloads=workloads, focus=focus, namespace=namespace)
    return list(rows.connections())
