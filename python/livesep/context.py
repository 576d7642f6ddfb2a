"""Stacked frames for unfolded presets with a context (:attr:`livesep.presets.Preset.context`).

Each layer of such a preset fits the frame and the frames some hops before it, one after the
other, so that what a sound does over time joins what its spectrum is. Lags count the
preset's hops; a stream at a shorter hop (a low-latency mode) takes for each the nearest
number of its own frames. Frames before the stream began are zero. The engine does the same
(``cpp/livesep/context.h``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from livesep.errors import ParameterError

__all__ = ["MAX_CONTEXT_FRAMES", "MAX_CONTEXT_LAG", "check_context", "lag_frames",
           "stack_frames", "ContextFrames"]

#: The most frames a context may stack, the frame itself included.
MAX_CONTEXT_FRAMES = 8
#: The longest lag a context may reach back, in the preset's hops.
MAX_CONTEXT_LAG = 64


def check_context(lags: object) -> tuple[int, ...]:
    """``lags`` as a tuple: 2 to :data:`MAX_CONTEXT_FRAMES` integers rising from 0 to at most
    :data:`MAX_CONTEXT_LAG`; :class:`ParameterError` otherwise."""
    items = tuple(lags) if isinstance(lags, (Sequence, np.ndarray)) and not isinstance(
        lags, (str, bytes)) else ()
    whole = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items)
    values = tuple(int(v) for v in items) if whole else ()
    rising = all(b > a for a, b in zip(values, values[1:]))
    if not (2 <= len(values) <= MAX_CONTEXT_FRAMES and values[0] == 0 and rising
            and values[-1] <= MAX_CONTEXT_LAG):
        raise ParameterError(f"a context is 2 to {MAX_CONTEXT_FRAMES} lags rising from 0 to at "
                             f"most {MAX_CONTEXT_LAG} hops, got {lags!r}")
    return values


def lag_frames(lags: Sequence[int], *, hops_per_frame: float = 1.0) -> list[int]:
    """The lags in a stream's frames when each frame is ``hops_per_frame`` of the preset's
    hops (the nearest whole frame, halves rounded up, as the engine rounds).

    Examples
    --------
    >>> lag_frames((0, 2, 4), hops_per_frame=0.5)
    [0, 4, 8]
    """
    if not hops_per_frame > 0:
        raise ParameterError(f"hops_per_frame must be > 0, got {hops_per_frame!r}")
    return [int(np.floor(lag / hops_per_frame + 0.5)) for lag in lags]


def stack_frames(X: npt.ArrayLike, frames: Sequence[int], *, segment: int | None = None
                 ) -> npt.NDArray[np.float32]:
    """Frames (T, F) stacked with their past: row t is ``X[t - frames[0]], X[t - frames[1]],
    ...`` side by side, shape (T, F x len(frames)); zero before the start (of each
    ``segment`` frames, for pieces laid end to end).

    Examples
    --------
    >>> stack_frames(np.arange(3.0)[:, None], [0, 1]).tolist()
    [[0.0, 0.0], [1.0, 0.0], [2.0, 1.0]]
    """
    V = np.asarray(X, dtype=np.float32)
    if V.ndim != 2:
        raise ParameterError(f"frames must be (T, F), got shape {V.shape}")
    T, F = V.shape
    position = np.arange(T) % segment if segment else np.arange(T)
    out = np.zeros((T, F * len(frames)), np.float32)
    for j, lag in enumerate(frames):
        known = position >= lag
        out[known, j * F:(j + 1) * F] = V[np.flatnonzero(known) - lag]
    return out


class ContextFrames:
    """A stream's recent frames, stacked frame by frame (the engine's ``ContextFrames``).

    Parameters
    ----------
    n_bins : int
        Bins per frame.
    lags : sequence of int
        The context's lags in the preset's hops (:func:`check_context`).
    hops_per_frame : float, keyword-only
        The preset's hops per frame of the stream.
    """

    def __init__(self, n_bins: int, lags: Sequence[int], *, hops_per_frame: float = 1.0
                 ) -> None:
        self.frames = lag_frames(check_context(lags), hops_per_frame=hops_per_frame)
        self.ring = np.zeros((self.frames[-1] + 1, n_bins), np.float32)
        self.newest = 0

    def reset(self) -> None:
        """Forget the past."""
        self.ring[:] = 0.0
        self.newest = 0

    def push(self, v: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Remember frame ``v`` (F,) and return it stacked with its past, (F x lags,)."""
        length = self.ring.shape[0]
        self.newest = (self.newest + 1) % length
        self.ring[self.newest] = v
        return np.concatenate([self.ring[(self.newest - lag) % length] for lag in self.frames])
