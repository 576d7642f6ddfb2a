"""β-divergence NMF (KL by default, the PLCA fit up to normalisation) over chunks of frames:
each chunk updates its own activations and contributes W's MM sums
(:func:`livesep.models.betadiv.w_statistics`); the sums add, and W is updated from the total
(:func:`~livesep.models.betadiv.w_update`) exactly as :func:`livesep.models.nmf.nmf` updates
it, without penalties on H. With one chunk this is that function's loop (NNDSVD start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt

from livesep.errors import ParameterError
from livesep.models._common import iteration_progress
from livesep.models.betadiv import (
    beta_divergence,
    relative_change,
    update_h,
    w_statistics,
    w_update,
)
from livesep.models.corpus.em import Chunk, MapSum, local_map_sum
from livesep.progress import Progress

__all__ = ["NmfFit", "NmfStatistics", "nmf_em", "nmf_step"]

Array = npt.NDArray[np.float64]


@dataclass(eq=False)
class NmfStatistics:
    """A chunk's cost (before its update) and W's MM sums (after it); they add up."""

    cost: float
    numerator: Array
    denominator: Array | None

    def __add__(self, other: NmfStatistics) -> NmfStatistics:
        return NmfStatistics(
            self.cost + other.cost, self.numerator + other.numerator,
            None if self.denominator is None or other.denominator is None
            else self.denominator + other.denominator)


@dataclass(eq=False)
class NmfFit:
    """W (F, K), columns summing to one, and the cost of every iterate."""

    W: Array
    costs: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False


def nmf_step(chunk: Chunk, *, W: Array, beta: float, eps: float, iteration: int,
             scale: Array | None) -> NmfStatistics:
    """One chunk's part of NMF iteration ``iteration``: its activations start flat at every
    frame's level unless stored (the first chunk's NNDSVD ones), are rescaled by ``scale``
    (K,) from the last W update, updated once with ``W`` fixed and stored."""
    V = chunk.spectrogram()
    if beta == 0:
        V = np.maximum(V, eps)  # d_IS(0 | y) is infinite, as in prepare_data
    H = chunk.weights(iteration)
    if H is None:
        if iteration:
            raise ParameterError(f"the chunk's activations of iteration {iteration} are "
                                 f"missing")
        H = np.repeat((V.sum(axis=0) / W.sum())[None, :], W.shape[1], axis=0)
    elif scale is not None:
        H = H * scale[:, None]
    Y = W @ H + eps
    cost = beta_divergence(V, Y, beta=beta)
    H = update_h(V, W, H, Y, beta=beta, l1=0.0, smoothness=0.0, column_sums=W.sum(axis=0))
    numerator, denominator = w_statistics(V, W @ H + eps, H, beta=beta)
    chunk.store_weights(iteration + 1, H)
    return NmfStatistics(cost, numerator, denominator)


def nmf_em(chunks: Sequence[Chunk], W: Array, *, beta: float, eps: float, n_iter: int,
           tol: float, map_sum: MapSum | None = None,
           progress: Progress | None = None) -> NmfFit:
    """NMF of the chunks' frames with a shared dictionary.

    Parameters
    ----------
    chunks : sequence of Chunk
        Frames (float64) and activations per chunk.
    W : np.ndarray, shape (F, K)
        Initial dictionary, columns summing to one.
    beta, eps, n_iter, tol : keyword-only
        As for :func:`livesep.models.nmf.nmf` (``eps`` is its model floor).
    map_sum, progress : keyword-only
        As for :func:`livesep.models.corpus.em.nhmm_em`.

    Returns
    -------
    NmfFit

    Examples
    --------
    >>> from livesep.models.corpus.em import MemoryChunk
    >>> rng = np.random.default_rng(0)
    >>> fit = nmf_em([MemoryChunk(rng.random((5, 30))), MemoryChunk(rng.random((5, 20)))],
    ...              np.full((5, 2), 0.2) + rng.random((5, 2)) * 0.01, beta=1.0, eps=1e-12,
    ...              n_iter=20, tol=0.0)
    >>> fit.W.shape, fit.costs[-1] < fit.costs[0]
    ((5, 2), True)
    """
    run = map_sum or local_map_sum
    costs: list[float] = []
    converged = False
    iterations = 0
    scale: Array | None = None
    with iteration_progress(n_iter, progress) as bar:
        for iterations in range(n_iter + 1):
            total: NmfStatistics = run(partial(nmf_step, W=W, beta=beta, eps=eps,
                                               iteration=iterations, scale=scale), chunks)
            costs.append(total.cost)
            if iterations and tol > 0 and relative_change(costs[-2], costs[-1]) < tol:
                converged = True
                break
            if iterations == n_iter:
                break
            W, scale = w_update(W, total.numerator, total.denominator, beta=beta)
            bar.advance()
        bar.finish()
    return NmfFit(W=W, costs=costs, n_iter=iterations, converged=converged)
