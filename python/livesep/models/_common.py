"""Helpers shared by the training models: argument checks, seeds and the progress bar."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.errors import ParameterError

__all__ = [
    "check_spectrogram",
    "check_int",
    "check_float",
    "check_seed",
    "check_choice",
    "iteration_progress",
    "ProgressBar",
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


def _shown(value: object) -> object:
    """``value`` as error messages show it: numpy scalars as plain Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


def check_int(name: str, value: object, *, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int after checking ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer, got {_shown(value)!r}")
    if value < low or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ParameterError(f"{name} must be {bounds}, got {_shown(value)!r}")
    return int(value)


def check_float(name: str, value: object, *, low: float = 0.0, high: float | None = None,
                low_open: bool = False) -> float:
    """Return ``value`` as a float after checking it is finite and in range.

    The range is ``[low, high]``, or ``(low, high]`` if ``low_open``; ``high=None`` means no
    upper bound.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, got {_shown(value)!r}")
    number = float(value)
    too_low = number <= low if low_open else number < low
    if not np.isfinite(number) or too_low or (high is not None and number > high):
        bounds = ("> " if low_open else ">= ") + f"{low:g}"
        if high is not None:
            bounds += f" and <= {high:g}"
        raise ParameterError(f"{name} must be a finite number {bounds}, got {_shown(value)!r}")
    return number


def check_seed(seed: object) -> int:
    """Return ``seed`` as a non-negative int (the only seeds we accept, for reproducibility)."""
    return check_int("seed", seed, low=0)


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                             f"got {value!r}")
    return value


class ProgressBar:
    """A handle on a running progress bar; ``ProgressBar()`` is a silent stand-in."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, status: str = "") -> None:
        """Count one iteration done and show ``status`` beside the bar."""
        if self._progress is not None:
            self._progress.update(self._task, advance=1, status=status)

    def finish(self, status: str = "") -> None:
        """Fill the bar (early convergence) and show a final status."""
        if self._progress is not None:
            total = self._progress.tasks[0].total
            self._progress.update(self._task, completed=total, status=status)


@contextmanager
def iteration_progress(total: int, description: str, enabled: bool) -> Iterator[ProgressBar]:
    """A rich progress bar over ``total`` iterations on stderr, or nothing if not ``enabled``.

    Library calls keep it off by default: a bar belongs to command-line use.
    """
    if not enabled:
        yield ProgressBar()
        return
    # Imported lazily: rich costs import time and library use never needs it.
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
        console=Console(file=sys.stderr), transient=False)
    with progress:
        task = progress.add_task(description, total=total, status="")
        yield ProgressBar(progress, task)
