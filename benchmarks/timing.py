"""Per-block timing of a streaming processor against the block deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlockTimes:
    """Wall-clock seconds per block call."""

    seconds: np.ndarray
    deadline: float

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.seconds, 99))

    @property
    def max(self) -> float:
        return float(self.seconds.max())

    @property
    def real_time_factor(self) -> float:
        """Processing time over audio time."""
        return float(self.seconds.sum() / (self.deadline * self.seconds.size))

    def row(self, name: str) -> str:
        us = 1e6
        return (f"{name:<28} {self.median * us:9.1f} {self.p99 * us:9.1f} {self.max * us:9.1f}"
                f" {100 * self.p99 / self.deadline:8.2f}% {self.real_time_factor:9.5f}")


HEADER = (f"{'processor':<28} {'median us':>9} {'p99 us':>9} {'max us':>9} {'p99/ddl':>9}"
          f" {'RTF':>9}")


def time_blocks(process: Callable[[np.ndarray], object], signal: np.ndarray, block_size: int,
                sr: int, warmup_blocks: int = 50) -> BlockTimes:
    """Call ``process`` on consecutive blocks of ``signal``; time each call."""
    blocks = [np.ascontiguousarray(signal[i:i + block_size])
              for i in range(0, signal.size - block_size + 1, block_size)]
    for block in blocks[:warmup_blocks]:
        process(block)
    seconds = np.empty(len(blocks))
    clock = time.perf_counter
    for index, block in enumerate(blocks):
        start = clock()
        process(block)
        seconds[index] = clock() - start
    return BlockTimes(seconds=seconds, deadline=block_size / sr)
