"""Gradients by central finite differences, to check hand-written ones against."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def finite_differences(cost: Callable[[], float], arrays: list[np.ndarray],
                       step: float = 1e-6) -> list[np.ndarray]:
    """d cost / d array for each array, entry by entry; ``cost`` reads the arrays, which are
    moved in place and put back."""
    grads = []
    for array in arrays:
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + step
            up = cost()
            array[index] = saved - step
            down = cost()
            array[index] = saved
            grad[index] = (up - down) / (2 * step)
        grads.append(grad)
    return grads
