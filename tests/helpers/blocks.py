"""Streaming a signal through a separator block by block, as a host does."""

from __future__ import annotations

import numpy as np

from livesep._core import Separator, _internal


def assert_no_allocation_per_block(separator: Separator, x: np.ndarray, block_size: int,
                                   n_sources: int = 2) -> None:
    """Every whole block of ``x`` goes through ``separator`` without one heap allocation."""
    out = np.zeros((n_sources, block_size), dtype=np.float32)
    for start in range(0, x.size - block_size + 1, block_size):
        block = np.ascontiguousarray(x[start:start + block_size])
        assert _internal.count_process_allocations(separator, block, out) == 0
