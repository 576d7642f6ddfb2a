"""Thread limits for numpy's BLAS, so that small matrix products do not fight over CPUs.

OpenBLAS spreads even tiny products over every core; when the cores are busy (another
process, a live audio thread) its threads wait for each other and a product of a few
hundred rows takes many times longer than on one thread. The scoring and benchmark
commands work on small matrices and run under :func:`blas_threads` (1 by default); the
numpy reference engine is timed with one thread, like the C++ engine it is compared with.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["blas_threads"]


@contextmanager
def blas_threads(n: int = 1) -> Iterator[None]:
    """Limit BLAS libraries (OpenBLAS, MKL, BLIS) to ``n`` threads inside the block.

    Uses ``threadpoolctl``; without it the block runs unchanged.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency, but harmless without it
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield
