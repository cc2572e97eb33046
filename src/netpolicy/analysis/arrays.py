"""Small NumPy idioms the analyses share: runs of equal values, concatenated ranges.

Written with plain array calls: `np.r_` would parse its index expression in Python on every
call, which costs more than the work itself on the short arrays of a small cluster.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def run_starts(values: NDArray[np.generic]) -> NDArray[np.int64]:
    """Where each run of equal consecutive `values` (one dimension) starts: 0 first, if any."""
    change = np.empty(len(values), dtype=bool)
    if len(values):
        change[0] = True
        np.not_equal(values[1:], values[:-1], out=change[1:])
    return np.flatnonzero(change)


def ragged_ranges(lo: NDArray[np.int64], lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """`lo[0] .. lo[0]+lengths[0]-1`, then the same for each i, in one array."""
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    return np.repeat(lo - (ends - lengths), lengths) + np.arange(total, dtype=np.int64)


def part_offsets(sizes: NDArray[np.int64]) -> NDArray[np.int64]:
    """Where each of consecutive parts of `sizes` starts, and the total last (len+1 values)."""
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out
