"""The array idioms of `analysis/arrays.py` against their plain-Python definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from netpolicy.analysis.arrays import part_offsets, ragged_ranges, run_starts

small = st.integers(min_value=0, max_value=5)


@given(st.lists(small, max_size=30))
def test_run_starts(values):
    expected = [i for i, v in enumerate(values) if i == 0 or values[i - 1] != v]
    assert run_starts(np.array(values, dtype=np.int64)).tolist() == expected


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=100), small), max_size=20))
def test_ragged_ranges(parts):
    lo = np.array([a for a, _ in parts], dtype=np.int64)
    lengths = np.array([n for _, n in parts], dtype=np.int64)
    expected = [a + k for a, n in parts for k in range(n)]
    assert ragged_ranges(lo, lengths).tolist() == expected


@given(st.lists(small, max_size=20))
def test_part_offsets(sizes):
    expected = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
    assert part_offsets(np.array(sizes, dtype=np.int64)).tolist() == expected


def test_run_starts_of_nothing_is_empty():
    assert run_starts(np.zeros(0, dtype=np.int64)).tolist() == []
