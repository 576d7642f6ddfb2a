"""A full-band unfolded model from one trained on the lower band: the layers keep fitting the
band they were trained on, and the estimates learn the bins above from the same activations.

Frames of the same length in seconds have the same bin spacing at any rate (512 samples at
16 kHz, 1536 at 48 kHz: 31.25 Hz), so a 16 kHz model's bins are the first 257 of a 48 kHz
frame's 769. Its layers, zero above those bins, fit exactly what they fitted at 16 kHz (the
update is blind to bins where every dictionary is zero, and the fit does not depend on the
frame's scale), so the lower band separates as the 16 kHz model does; the estimate
dictionary (the last block) gets rows above, learnt with the layers fixed, so that the masks
``M_s = V_s^2 / sum_j V_j^2`` there make the masked mixture close to each source, on
compressed magnitudes as :func:`~livesep.models.unfolded.model.train_unfolded` does. The
estimate's columns keep the scale they are learnt at: they no longer sum to one.

:func:`extend_layers` then lets the layers see the band above as well: each layer's column
gets rows there shaped as its estimate column's, so that the fit weighs what lies above the
lower band (a room's hiss beside a voice's air) with what the estimates already say of it.
Nothing is learnt anew: the rows come from the estimates, which were learnt on other voices
than a user's, so the fit judges the upper band by each column's usual shape there, not by
the training voices' own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from livesep.checks import check_seed
from livesep.errors import ParameterError
from livesep.models.unfolded.model import (
    UnfoldedModel,
    _forward,
    check_training,
    descend,
    mask_cost,
    per_mass,
    softplus_inverse,
)
from livesep.progress import Progress

__all__ = ["extend_estimates", "extend_layers", "upper_band_loss"]

Array = npt.NDArray[np.float64]
#: Frames fitted at once: the activations of a long training set are computed in pieces.
CHUNK = 4096
#: Multiplicative updates of the upper rows' Kullback-Leibler start.
START_ITERATIONS = 50


def upper_band_loss(theta: Array, h: Array, x: Array, targets: Array, ks: Sequence[int], *,
                    compress: float = 0.5) -> tuple[float, Array]:
    """The training cost of the upper rows and its gradient with respect to ``theta``.

    Parameters
    ----------
    theta : np.ndarray, shape (F_upper, K)
        The rows, as ``softplus(theta)``, every source's columns side by side.
    h : np.ndarray, shape (B, K)
        The layers' final activations of each frame.
    x : np.ndarray, shape (B, F_upper)
        The mixture's upper bins (frames scaled by their mass).
    targets : np.ndarray, shape (S, B, F_upper)
        Each source's upper bins, scaled alike.
    ks : sequence of int
        Components per source.

    Returns
    -------
    cost : float
    gradient : np.ndarray, shape (F_upper, K)
    """
    W = np.logaddexp(0.0, theta)
    edges = np.cumsum([0, *ks])
    estimates = np.stack([h[:, a:b] @ W[:, a:b].T for a, b in zip(edges, edges[1:])])
    cost, d_estimates = mask_cost(estimates, x, targets, compress=compress, mask_floor=1e-30)
    d_W = np.concatenate([d_estimates[s].T @ h[:, a:b]
                          for s, (a, b) in enumerate(zip(edges, edges[1:]))], axis=1)
    return cost, d_W * -np.expm1(-W)


def extend_estimates(model: UnfoldedModel, frames: npt.ArrayLike, sources: npt.ArrayLike, *,
                     epochs: int = 30, batch: int = 1024, learning_rate: float = 1e-2,
                     compress: float = 0.5, seed: int = 0, progress: Progress | None = None
                     ) -> UnfoldedModel:
    """Extend an unfolded model to frames with more bins: layers zero above the bins it was
    trained on, estimates learnt there.

    Parameters
    ----------
    model : UnfoldedModel
        Trained on frames of ``F_fit`` bins, the lowest of the new frames'.
    frames : array-like, shape (T, F)
        Mixture magnitudes with ``F > F_fit`` bins of the same spacing.
    sources : array-like, shape (S, T, F)
        Each source's magnitudes in those mixtures.
    epochs, batch, learning_rate, compress : keyword-only
        As :func:`~livesep.models.unfolded.model.train_unfolded`'s, for the upper rows.
    seed : int, keyword-only
        The order of the frames.
    progress : callable, optional, keyword-only
        Called with the fraction done.

    Returns
    -------
    UnfoldedModel
        Dictionaries (layers + 1, F, K_s): the layers' columns still sum to one.

    Examples
    --------
    >>> import numpy as np
    >>> from livesep.models.unfolded import UnfoldedModel, extend_estimates
    >>> rng = np.random.default_rng(0)
    >>> low = UnfoldedModel(tuple(w / w.sum(axis=1, keepdims=True)
    ...                           for w in (rng.random((3, 5, 2)), rng.random((3, 5, 2)))))
    >>> speech, noise = rng.random((2, 40, 9))
    >>> wide = extend_estimates(low, speech + noise, [speech, noise], epochs=2, batch=8)
    >>> wide.dictionaries[0].shape, float(abs(wide.dictionaries[0][:2, 5:]).max())
    ((3, 9, 2), 0.0)
    """
    check_training(epochs, batch, learning_rate, compress)
    rng = np.random.default_rng(check_seed(seed))
    x = np.asarray(frames, dtype=np.float64)
    targets = np.asarray(sources, dtype=np.float64)
    fit_bins = model.dictionaries[0].shape[1]
    if x.ndim != 2 or targets.shape[1:] != x.shape or targets.shape[0] != len(
            model.dictionaries) or x.shape[1] <= fit_bins:
        raise ParameterError(f"frames must be (T, F) with F above the model's {fit_bins} bins "
                             f"and sources (S, T, F) with one per source of the model, got "
                             f"{x.shape} and {targets.shape}")
    x, targets = per_mass(x, targets)
    ks = [W.shape[2] for W in model.dictionaries]
    layers = np.concatenate(model.dictionaries, axis=2).astype(np.float64)
    padded = np.zeros((layers.shape[0], x.shape[1], layers.shape[2]))
    padded[:, :fit_bins] = layers
    h = np.concatenate([_forward(x[a:a + CHUNK], padded, ks)[0][-1]
                        for a in range(0, len(x), CHUNK)])
    upper, upper_targets = x[:, fit_bins:], targets[:, :, fit_bins:]
    edges = np.cumsum([0, *ks])
    start = np.concatenate([_kl_rows(h[:, a:b], upper_targets[s])
                            for s, (a, b) in enumerate(zip(edges, edges[1:]))], axis=1)
    theta = softplus_inverse(start)
    descend(theta, len(x), lambda chosen: upper_band_loss(
        theta, h[chosen], upper[chosen], upper_targets[:, chosen], ks, compress=compress)[1],
        epochs=epochs, batch=batch, learning_rate=learning_rate, rng=rng, progress=progress)
    padded[-1, fit_bins:] = np.logaddexp(0.0, theta)
    return UnfoldedModel(tuple(np.ascontiguousarray(padded[:, :, a:b], dtype=np.float32)
                               for a, b in zip(edges, edges[1:])))


def extend_layers(model: UnfoldedModel, *, fit_bins: int) -> UnfoldedModel:
    """An extended model (:func:`extend_estimates`) whose layers fit every bin.

    Parameters
    ----------
    model : UnfoldedModel
        Layers zero above ``fit_bins``, estimates of every bin.
    fit_bins : int, keyword-only
        The bins the layers cover.

    Returns
    -------
    UnfoldedModel
        The same estimates; in every layer, each column's rows above ``fit_bins`` are its
        estimate column's there over that column's sum below, and then each layer's column
        is scaled to sum to one.

    Raises
    ------
    ParameterError
        If ``fit_bins`` leaves no bin above, or a layer already covers a bin above it.

    Examples
    --------
    >>> import numpy as np
    >>> from livesep.models.unfolded import UnfoldedModel, extend_layers
    >>> W = np.zeros((3, 9, 2)); W[:2, :5] = 0.2; W[2] = np.arange(1, 10)[:, None]
    >>> wide = extend_layers(UnfoldedModel((W,)), fit_bins=5)
    >>> layers = wide.dictionaries[0][:2]
    >>> bool(layers[:, 5:].min() > 0), bool(np.allclose(layers.sum(axis=1), 1))
    (True, True)
    """
    n_bins = model.dictionaries[0].shape[1]
    if not 1 <= fit_bins < n_bins:
        raise ParameterError(f"fit_bins must be 1 to {n_bins - 1}, got {fit_bins!r}")
    if any(np.any(W[:-1, fit_bins:]) for W in model.dictionaries):
        raise ParameterError(f"the model's layers already cover bins above {fit_bins}")
    blocks = []
    for W in model.dictionaries:
        layers = np.array(W[:-1], dtype=np.float64)
        estimate = np.asarray(W[-1], dtype=np.float64)
        upper = estimate[fit_bins:] / np.maximum(estimate[:fit_bins].sum(axis=0), 1e-30)
        layers[:, fit_bins:] = upper * layers[:, :fit_bins].sum(axis=1, keepdims=True)
        layers /= np.maximum(layers.sum(axis=1, keepdims=True), 1e-30)
        blocks.append(np.ascontiguousarray(np.concatenate([layers, estimate[None]]),
                                           dtype=np.float32))
    return UnfoldedModel(tuple(blocks))


def _kl_rows(h: Array, target: Array) -> Array:
    """Rows W (F, K) >= 0 with ``h W^T`` close to ``target`` (T, F) in Kullback-Leibler
    divergence, ``h`` fixed: the start of the masks' training."""
    W = np.full((target.shape[1], h.shape[1]), target.mean() / max(h.sum(axis=1).mean(), 1e-12))
    denominator = h.sum(axis=0) + 1e-12
    for _ in range(START_ITERATIONS):
        W *= ((target / (h @ W.T + 1e-12)).T @ h) / denominator
    return W
