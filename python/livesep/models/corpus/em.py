"""The N-HMM's EM over chunks: every iteration maps :func:`nhmm_step` over the chunks, sums
their statistics and runs the M-step. :func:`livesep.models.nhmm.train_nhmm` is this with one
chunk held in memory; a corpus on a cluster is the same loop over many
(:mod:`livesep.models.corpus.chunks`), its ``map_sum`` run by Dask.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial, reduce
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from livesep.errors import ParameterError
from livesep.models._common import iteration_progress
from livesep.models.corpus.fits import (
    W_FLOOR,
    NhmmStatistics,
    StateFits,
    chunk_statistics,
    floor_columns,
    m_step,
)
from livesep.models.initialise import (
    initial_dictionaries,
    initial_labels,
    initial_transitions,
)
from livesep.progress import Progress

__all__ = ["Chunk", "MapSum", "MemoryChunk", "NhmmFit", "initial_nhmm", "local_map_sum",
           "nhmm_em", "nhmm_step"]

Array = npt.NDArray[np.float64]
#: ``map_sum(function, items)``: ``function`` applied to every item, the results added up.
MapSum = Callable[[Callable[[Any], Any], Sequence[Any]], Any]


class Chunk(Protocol):
    """A run of training frames and the per-frame weights EM keeps for them."""

    def spectrogram(self) -> npt.NDArray[np.floating]:
        """The frames (F, T), scaled to counts, in the work dtype."""

    def weights(self, iteration: int) -> npt.NDArray[np.floating] | None:
        """The weights (Q, K, T) at the start of ``iteration``; None before the first."""

    def store_weights(self, iteration: int, H: npt.NDArray[np.floating]) -> None:
        """Keep the weights for the start of ``iteration``."""


@dataclass(eq=False)
class MemoryChunk:
    """A chunk held in this process: the frames and the latest weights.

    Examples
    --------
    >>> chunk = MemoryChunk(np.ones((4, 3), dtype=np.float32))
    >>> chunk.weights(0) is None, chunk.spectrogram().shape
    (True, (4, 3))
    """

    V: npt.NDArray[np.floating]
    H: npt.NDArray[np.floating] | None = None
    iteration: int = 0

    def spectrogram(self) -> npt.NDArray[np.floating]:
        return self.V

    def weights(self, iteration: int) -> npt.NDArray[np.floating] | None:
        if self.H is not None and iteration != self.iteration:
            raise ParameterError(f"chunk holds the weights of iteration {self.iteration}, "
                                 f"asked for {iteration}")
        return self.H

    def store_weights(self, iteration: int, H: npt.NDArray[np.floating]) -> None:
        self.H, self.iteration = H, iteration


def local_map_sum(function: Callable[[Any], Any], items: Sequence[Any]) -> Any:
    """``map_sum`` in this process, in the items' order.

    Examples
    --------
    >>> local_map_sum(len, ["ab", "c"])
    3
    """
    return reduce(operator.add, map(function, items))


@dataclass(eq=False)
class NhmmFit:
    """What :func:`nhmm_em` found: see :class:`livesep.models.nhmm.NhmmModel`."""

    W: npt.NDArray[np.floating]
    A: Array
    pi: Array
    log_likelihoods: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False


def initial_nhmm(scaled: Array, *, n_states: int, n_components: int, seed: int,
                 init_nmf_iter: int, transition_floor: float
                 ) -> tuple[Array, Array, Array]:
    """Initial dictionaries (Q, F, K), transitions (Q, Q) and ``pi`` (Q,) from the frames
    ``scaled`` (F, T): k-means states, an NMF per state, transitions counted on the labels."""
    rng = np.random.default_rng(seed)
    labels = initial_labels(scaled, n_states, rng)
    W0 = initial_dictionaries(scaled, labels, n_states, n_components, init_nmf_iter,
                              int(rng.integers(2**63)))
    A, pi = initial_transitions(labels, n_states, transition_floor)
    return W0, A, pi


def nhmm_step(chunk: Chunk, *, W: npt.NDArray[np.floating], A: Array, pi: Array,
              iteration: int, init_weight_iter: int) -> NhmmStatistics:
    """One chunk's part of EM iteration ``iteration`` (run where the chunk is).

    Before the first iteration the chunk's weights start flat and get ``init_weight_iter``
    weight-only updates with the initial dictionaries. The updated weights are stored for
    the next iteration; a repeated call (a task rerun after a worker died) recomputes the
    same result from the same stored weights.
    """
    V = chunk.spectrogram()
    H = chunk.weights(iteration)
    if H is None:
        if iteration:
            raise ParameterError(f"the chunk's weights of iteration {iteration} are missing")
        Q, _, K = W.shape
        fits = StateFits(V, W, np.full((Q, K, V.shape[1]), 1.0 / K, dtype=W.dtype))
        for _ in range(init_weight_iter):
            fits.update_weights()
        H = fits.H
    statistics, updated = chunk_statistics(V, W, H, A, pi)
    chunk.store_weights(iteration + 1, updated)
    return statistics


def nhmm_em(chunks: Sequence[Chunk], W: Array, A: Array, pi: Array, *, n_iter: int,
            tol: float, init_weight_iter: int, dtype: npt.DTypeLike = np.float32,
            map_sum: MapSum | None = None,
            progress: Progress | None = None,
            callback: Callable[[int, float], None] | None = None) -> NhmmFit:
    """EM of an N-HMM over chunks of frames, each an independent sequence.

    Parameters
    ----------
    chunks : sequence of Chunk
        The training frames; one chunk reproduces EM on one sequence exactly.
    W : np.ndarray, shape (Q, F, K)
        Initial dictionaries (floored and cast to ``dtype`` here).
    A, pi : np.ndarray, shapes (Q, Q) and (Q,)
        Initial transitions and the initial distribution (fixed during EM).
    n_iter, tol, init_weight_iter : keyword-only
        As for :func:`livesep.models.nhmm.train_nhmm`.
    dtype : {float32, float64}, keyword-only
        Precision of the dictionaries and weights; the chunks' frames must share it.
    map_sum : callable, optional, keyword-only
        Runs :func:`nhmm_step` on every chunk and adds the statistics up
        (:func:`local_map_sum` by default; a cluster's otherwise).
    progress, callback : keyword-only
        As for :func:`~livesep.models.nhmm.train_nhmm`.

    Returns
    -------
    NhmmFit
        ``pi`` is the state occupancy of the last E-step.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((6, 40)) * 10
    >>> W0, A, pi = initial_nhmm(V, n_states=2, n_components=2, seed=0, init_nmf_iter=5,
    ...                          transition_floor=1e-3)
    >>> fit = nhmm_em([MemoryChunk(V)], W0, A, pi, n_iter=3, tol=0.0, init_weight_iter=2,
    ...               dtype=np.float64)
    >>> fit.W.shape, len(fit.log_likelihoods), fit.log_likelihoods[-1] >= fit.log_likelihoods[0]
    ((2, 6, 2), 4, True)
    """
    run = map_sum or local_map_sum
    W = floor_columns(W, W_FLOOR).astype(dtype)
    history: list[float] = []
    converged = False
    iterations = 0
    with iteration_progress(n_iter, progress) as bar:
        for iterations in range(n_iter + 1):
            total: NhmmStatistics = run(partial(nhmm_step, W=W, A=A, pi=pi,
                                                iteration=iterations,
                                                init_weight_iter=init_weight_iter), chunks)
            history.append(total.log_likelihood)
            if callback is not None:
                callback(iterations, total.log_likelihood)
            if iterations and tol > 0 and (history[-1] - history[-2]) < tol * abs(history[-2]):
                converged = True
                break
            if iterations == n_iter:
                break
            W, A = m_step(W, A, total)
            bar.advance()
        bar.finish()
    occupancy = total.occupancy / total.frames
    return NhmmFit(W=W, A=A, pi=occupancy / occupancy.sum(), log_likelihoods=history,
                   n_iter=iterations, converged=converged)
