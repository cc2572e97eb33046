"""Immutable sets of integers as sorted disjoint closed intervals (ports, IP addresses)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator


class IntervalSet:
    """A finite set of integers stored as sorted, disjoint, non-adjacent `(lo, hi)` ranges.

    Invariant: for consecutive ranges a, b: a.hi + 1 < b.lo. Values are immutable and hashable.
    """

    __slots__ = ("_hash", "_ranges")

    _ranges: tuple[tuple[int, int], ...]
    _hash: int | None

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        items = sorted((lo, hi) for lo, hi in ranges if lo <= hi)
        merged: list[tuple[int, int]] = []
        for lo, hi in items:
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        object.__setattr__(self, "_ranges", tuple(merged))
        object.__setattr__(self, "_hash", None)

    @classmethod
    def _trusted(cls, ranges: tuple[tuple[int, int], ...]) -> IntervalSet:
        new = cls.__new__(cls)
        object.__setattr__(new, "_ranges", ranges)
        object.__setattr__(new, "_hash", None)
        return new

    @classmethod
    def empty(cls) -> IntervalSet:
        return _EMPTY

    @classmethod
    def span(cls, lo: int, hi: int) -> IntervalSet:
        return cls._trusted(((lo, hi),)) if lo <= hi else _EMPTY

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("IntervalSet is immutable")

    @property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        return self._ranges

    def is_empty(self) -> bool:
        return not self._ranges

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def __len__(self) -> int:
        """The number of integers in the set."""
        return sum(hi - lo + 1 for lo, hi in self._ranges)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._ranges)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect_right(self._ranges, (value, float("inf"))) - 1
        return i >= 0 and self._ranges[i][0] <= value <= self._ranges[i][1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self._ranges == other._ranges

    def __hash__(self) -> int:
        if self._hash is None:
            object.__setattr__(self, "_hash", hash(self._ranges))
        return self._hash  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"IntervalSet({list(self._ranges)!r})"

    def __or__(self, other: IntervalSet) -> IntervalSet:
        if not other._ranges:
            return self
        if not self._ranges:
            return other
        return IntervalSet(self._ranges + other._ranges)

    def __and__(self, other: IntervalSet) -> IntervalSet:
        a, b = self._ranges, other._ranges
        out: list[tuple[int, int]] = []
        i = j = 0
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet._trusted(tuple(out)) if out else _EMPTY

    def __sub__(self, other: IntervalSet) -> IntervalSet:
        if not other._ranges or not self._ranges:
            return self
        out: list[tuple[int, int]] = []
        b = other._ranges
        j = 0
        for lo, hi in self._ranges:
            cur = lo
            while j < len(b) and b[j][1] < cur:
                j += 1
            k = j
            while k < len(b) and b[k][0] <= hi:
                if b[k][0] > cur:
                    out.append((cur, b[k][0] - 1))
                cur = max(cur, b[k][1] + 1)
                if cur > hi:
                    break
                k += 1
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet._trusted(tuple(out)) if out else _EMPTY

    def complement(self, universe: IntervalSet) -> IntervalSet:
        """`universe - self`: there is no implicit universe, ports and addresses differ."""
        return universe - self

    def is_subset(self, other: IntervalSet) -> bool:
        return not (self - other)

    def overlaps(self, other: IntervalSet) -> bool:
        return bool(self & other)


_EMPTY = IntervalSet._trusted(())


def cut_points(sets: Iterable[IntervalSet], universe: IntervalSet) -> list[IntervalSet]:
    """The coarsest partition of `universe` that every given set is a union of (its atoms)."""
    bounds: set[int] = set()
    for s in sets:
        for lo, hi in s:
            bounds.add(lo)
            bounds.add(hi + 1)
    atoms: list[IntervalSet] = []
    for ulo, uhi in universe:
        starts = sorted(b for b in bounds if ulo < b <= uhi)
        prev = ulo
        for b in starts:
            atoms.append(IntervalSet.span(prev, b - 1))
            prev = b
        atoms.append(IntervalSet.span(prev, uhi))
    return atoms
