"""Fixed pseudo-random 64-bit salts for the hashes that tell rows apart.

SplitMix64 over a counter, in NumPy: deterministic, and cheaper to start than
`numpy.random` (which costs several milliseconds to import on every run).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def salts(seed: int, shape: int | tuple[int, ...]) -> NDArray[np.uint64]:
    """Odd values in [1, 2**63), the same for the same seed and shape. Each seed starts its
    counter at a scrambled place, so that streams of nearby seeds do not overlap."""
    count = int(np.prod(shape))
    start = np.uint64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
    with np.errstate(over="ignore"):
        z = (np.arange(1, count + 1, dtype=np.uint64) + start) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z ^= z >> np.uint64(31)
    return ((z >> np.uint64(1)) | np.uint64(1)).reshape(shape)
