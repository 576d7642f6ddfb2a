"""The user's controls of a live stream: per-source gain, mute and solo, the strength of the
separation, and bypass.

They are kept here, as the user set them, and pushed to the engine (atomics, from the next
STFT frame) and to the live host whenever one changes or a new engine takes over; bypass
replaces them by unity gains without forgetting them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from livesep.checks import check_float
from livesep.errors import ParameterError

__all__ = ["Controls"]


class Controls:
    """Per-source gain, mute and solo, the strength (0 to 1) and bypass, for sources named
    ``source_names``."""

    def __init__(self, source_names: Sequence[str]) -> None:
        self.source_names = tuple(source_names)
        n_sources = len(self.source_names)
        self.gains = np.ones(n_sources)
        self.muted = np.zeros(n_sources, dtype=bool)
        self.soloed = np.zeros(n_sources, dtype=bool)
        self.strength = 1.0
        self.bypass = False

    def index(self, source: int | str) -> int:
        """A source's index from its index or name."""
        names = self.source_names
        if isinstance(source, str):
            if source not in names:
                raise ParameterError(f"no source named {source!r} (sources: {', '.join(names)})")
            return names.index(source)
        if not 0 <= int(source) < len(names):
            raise ParameterError(f"source must be in [0, {len(names)}), got {source!r}")
        return int(source)

    def set_gain(self, source: int | str, gain: float) -> None:
        if not (np.isfinite(gain) and gain >= 0):
            raise ParameterError(f"gain must be finite and >= 0, got {gain!r}")
        self.gains[self.index(source)] = gain

    def set_muted(self, source: int | str, muted: bool) -> None:
        self.muted[self.index(source)] = bool(muted)

    def set_soloed(self, source: int | str, soloed: bool) -> None:
        self.soloed[self.index(source)] = bool(soloed)

    def set_strength(self, strength: float) -> None:
        self.strength = check_float("strength", strength, low=0.0, high=1.0)

    def apply(self, engine: Any, host: Any = None) -> None:
        """Push the controls to a separator and, if given, to the live host (bypass).

        Bypass sets unity gains and no mute or solo: the soft masks of all sources sum to
        one, so the sources' sum at unity gain *is* the input, delayed by the engine's
        latency, and the engine fades gains in by overlap-add; the live host fades stem
        channels to that sum over one block.
        """
        engine.set_strength(1.0 if self.bypass else self.strength)
        for s in range(len(self.source_names)):
            engine.set_gain(s, 1.0 if self.bypass else float(self.gains[s]))
            engine.set_muted(s, False if self.bypass else bool(self.muted[s]))
            engine.set_soloed(s, False if self.bypass else bool(self.soloed[s]))
        if host is not None:
            host.set_bypass(self.bypass)
