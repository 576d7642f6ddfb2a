"""Helpers shared by the training models: the array checks and iteration progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.errors import ParameterError
from livesep.progress import Progress

__all__ = [
    "check_entries",
    "check_spectrogram",
    "iteration_progress",
    "IterationCount",
]


def check_spectrogram(V: npt.ArrayLike, *, name: str = "V",
                      dtype: npt.DTypeLike = np.float64) -> npt.NDArray[Any]:
    """Return ``V`` as a C-contiguous 2-D array of ``dtype`` after checking it.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative, finite, not all zero.
    name : str, keyword-only
        How error messages call it.
    dtype : dtype, keyword-only
        The dtype of the returned array.

    Returns
    -------
    np.ndarray, shape (F, T)

    Raises
    ------
    ParameterError
        If ``V`` is not 2-D, is empty, holds NaN/Inf or negative values, or is all zero; the
        message shows the offending value and where it is.
    """
    try:
        array = np.asarray(V)
    except (TypeError, ValueError) as error:
        raise ParameterError(f"{name} must be a 2-D array (F, T), got {type(V).__name__} "
                             f"({error})") from None
    if array.dtype.kind not in "biuf":
        raise ParameterError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ParameterError(f"{name} must be 2-D, shaped (F, T), got shape {array.shape}")
    if array.size == 0:
        raise ParameterError(f"{name} must not be empty, got shape {array.shape}")
    finite = np.isfinite(array)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ParameterError(f"{name} must be finite, got {array[where].item()!r} at {where}")
    if array.min() < 0:
        where = tuple(int(i) for i in np.unravel_index(np.argmin(array), array.shape))
        raise ParameterError(f"{name} must be non-negative, got {array[where].item()!r} "
                             f"at {where}")
    if not array.any():
        raise ParameterError(f"{name} must not be all zero (shape {array.shape})")
    return np.ascontiguousarray(array, dtype=dtype)


def check_entries(name: str, array: npt.NDArray[Any]) -> None:
    """Raise :class:`ParameterError` naming the first NaN/Inf or negative entry."""
    bad = ~np.isfinite(array) | (np.nan_to_num(array, nan=0.0) < 0)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ParameterError(f"{name} must be finite and non-negative, got "
                             f"{array[where].item()!r} at {where}")


class IterationCount:
    """Counts the iterations done and tells ``progress`` the fraction of ``total``."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self._total = max(int(total), 1)
        self._done = 0
        self._progress = progress

    def advance(self) -> None:
        """One more iteration done."""
        self._done += 1
        if self._progress is not None:
            self._progress(min(self._done / self._total, 1.0))

    def finish(self) -> None:
        """All done (also on early convergence)."""
        if self._progress is not None:
            self._progress(1.0)


@contextmanager
def iteration_progress(total: int, progress: Progress | None) -> Iterator[IterationCount]:
    """An :class:`IterationCount` over ``total`` iterations, for a ``with`` block."""
    yield IterationCount(total, progress)
