"""Helpers for the LV2 plugin's tests: host tools that must be installed, signals at a rate."""

from __future__ import annotations

import shutil

import numpy as np

from livesep.resampling import resample

__all__ = ["tool", "at_rate"]


def tool(name: str) -> str:
    """The path of a host tool; a missing one fails the test (scripts/run.sh installs it)."""
    found = shutil.which(name)
    assert found, f"{name} is not installed (bash scripts/run.sh test installs it)"
    return found


def at_rate(signal: tuple[np.ndarray, int], rate: int) -> np.ndarray:
    """A (samples, rate) signal resampled to ``rate``."""
    x, source_rate = signal
    return resample(x, orig_sr=source_rate, target_sr=rate)
