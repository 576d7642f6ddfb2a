"""Argument checks shared by the whole package: each returns the checked value or raises an
error whose message names the parameter and shows the bad value."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from livesep.errors import ParameterError

__all__ = ["show", "type_name", "check_int", "check_float", "check_choice", "check_seed"]

ErrorType = Callable[[str], Exception]


def show(value: object, limit: int = 60) -> str:
    """``repr`` of a value for an error message: numpy scalars as plain numbers, shortened."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def type_name(value: object) -> str:
    """The type of a value as a message calls it (``null`` for None, as JSON does)."""
    return "null" if value is None else type(value).__name__


def check_int(name: str, value: object, *, low: int, high: int | None = None,
              error: ErrorType = ParameterError) -> int:
    """``value`` as an int, after checking ``low <= value <= high`` (no upper bound when
    ``high`` is None); ``error`` is raised otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise error(f"{name} must be an integer, got {show(value)} ({type_name(value)})")
    if value < low or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise error(f"{name} must be {bounds}, got {show(value)}")
    return int(value)


def check_float(name: str, value: object, *, low: float = 0.0, high: float | None = None,
                low_open: bool = False, error: ErrorType = ParameterError) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` if ``low_open``; no
    upper bound when ``high`` is None)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise error(f"{name} must be a number, got {show(value)} ({type_name(value)})")
    number = float(value)
    too_low = number <= low if low_open else number < low
    if not np.isfinite(number) or too_low or (high is not None and number > high):
        bounds = ("> " if low_open else ">= ") + f"{low:g}"
        if high is not None:
            bounds += f" and <= {high:g}"
        raise error(f"{name} must be a finite number {bounds}, got {show(value)}")
    return number


def check_choice(name: str, value: object, choices: tuple[str, ...], *,
                 error: ErrorType = ParameterError) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise error(f"{name} must be one of {', '.join(map(repr, choices))}, "
                    f"got {show(value)}")
    return value


def check_seed(seed: object) -> int:
    """``seed`` as a non-negative int (the only seeds accepted, for reproducibility)."""
    return check_int("seed", seed, low=0)
