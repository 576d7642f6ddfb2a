"""The quality governor: lowers the engine's work when the audio callback nears its
deadline, and raises it back when there is room again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["QualityGovernor", "QualityLevel", "apply_quality"]


@dataclass(frozen=True)
class QualityLevel:
    """Per-frame work: activation iterations and beam (joint states evaluated)."""

    level: int
    n_iter: int
    beam: int


class QualityGovernor:
    """Lowers the engine's work when the callback nears its deadline, raises it back when
    there is room again.

    Level 0 is the model's own settings; each level halves the iterations (down to 1) and
    the beam (down to 2; exact filtering counts as every joint state). Why these two: they
    are the engine's cost knobs that degrade quality smoothly (FINDINGS.md: a few
    iterations less and a narrower beam cost little SDR) instead of an audible dropout.

    Parameters
    ----------
    n_iter, beam : int
        The model's own iterations and beam (0 = exact).
    n_joint : int
        Joint states of the model (product of the sources' state counts).
    high, low : float
        Load (callback time / period, p99 over the last second) above which the work is
        cut; it is restored one level once the load that level would have (the current load
        times its extra work) stays below ``low`` for ``recover_after`` seconds.
    """

    def __init__(self, n_iter: int, beam: int, n_joint: int, *, high: float = 0.8,
                 low: float = 0.35, recover_after: float = 5.0, cooldown: float = 1.0) -> None:
        self.high, self.low = high, low
        self.recover_after, self.cooldown = recover_after, cooldown
        self._n_joint = n_joint
        self.levels = self._levels(n_iter, beam, n_joint)
        self.level = 0
        self._last_change = self._last_raise = -1e9
        self._calm_since: float | None = None
        self._failures: dict[int, int] = {}  # level → raises to it that were undone

    @staticmethod
    def _levels(n_iter: int, beam: int, n_joint: int) -> list[QualityLevel]:
        levels = [QualityLevel(0, n_iter, beam)]
        iterations = n_iter
        width = n_joint if beam == 0 else min(beam, n_joint)
        while iterations > 1 or (n_joint > 2 and width > 2):
            iterations = max(1, iterations // 2)
            width = max(2, width // 2) if n_joint > 2 else width
            levels.append(QualityLevel(len(levels), iterations,
                                       width if n_joint > 2 else beam))
        return levels

    def _work_ratio(self, level: int) -> float:
        """How much more work a frame takes one level up (iterations x states evaluated)."""
        def work(q: QualityLevel) -> float:
            states = self._n_joint if q.beam == 0 else min(q.beam, self._n_joint)
            return max(q.n_iter, 1) * max(states, 1)

        return work(self.levels[level - 1]) / work(self.levels[level])

    @property
    def current(self) -> QualityLevel:
        return self.levels[self.level]

    def update(self, now: float, load_p99: float, new_xruns: int) -> QualityLevel | None:
        """Feed the last second's load and the xruns since the last call; returns the new
        level when it changed.

        An xrun lowers the level only when the load is not low: an xrun at low load is not
        the engine's doing (a stalled system, another program), and less work would not help.
        Each time a raise had to be undone, the next raise at that level waits twice as long,
        so that a level that cannot keep up is not retried every few seconds.
        """
        if not np.isfinite(load_p99):
            return None
        overloaded = load_p99 > self.high or (new_xruns > 0 and load_p99 > self.low)
        if overloaded and self.level < len(self.levels) - 1:
            self._calm_since = None
            if now - self._last_change >= self.cooldown:
                if now - self._last_raise < self.recover_after:
                    self._failures[self.level] = self._failures.get(self.level, 0) + 1
                self.level += 1
                self._last_change = now
                return self.current
            return None
        if self.level > 0 and load_p99 * self._work_ratio(self.level) < self.low:
            if self._calm_since is None:
                self._calm_since = now
            wait = self.recover_after * 2 ** self._failures.get(self.level - 1, 0)
            if now - self._calm_since >= wait:
                self.level -= 1
                self._last_change = self._last_raise = now
                self._calm_since = now
                return self.current
            return None
        self._calm_since = None
        return None


def apply_quality(engine: Any, level: QualityLevel) -> None:
    """Set a separator's per-frame work to ``level`` (level 0: the model's own settings)."""
    if level.level == 0:
        engine.set_quality(n_iter=-1, beam=-1)
    else:
        engine.set_quality(n_iter=level.n_iter, beam=level.beam)
