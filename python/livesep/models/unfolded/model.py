"""Deep unfolded NMF (Le Roux, Hershey & Weninger, "Deep NMF for speech separation", ICASSP
2015): a fixed number of KL multiplicative updates of the activations, each with its own
non-negative dictionaries, trained end to end on mixtures so that the soft masks they end
in separate well.

For a frame ``x`` (magnitudes scaled to sum to one) and sources ``s`` with dictionaries
``W_s^l`` (F x K_s, columns summing to one), the activations start flat, ``h^0 = 1 / K``, and

    h^l = h^{l-1} * (W^l)^T (x / (W^l h^{l-1} + eps)),     W^l = [W_1^l ... W_S^l],  l = 1..L

(the engine's KL update with unit column sums); the sources' estimates are
``V_s = W_s^{L+1} h_s^L`` and the masks ``M_s = V_s^2 / sum_j V_j^2``. Everything after the
frame is differentiable, so the dictionaries are fitted by gradient descent (Adam on
``W = normalise(softplus(theta))``) to make the masked mixture ``M_s * x`` close to each
source's own magnitudes, on compressed magnitudes (``|.|^compress``: quiet bins count). The
gradients are written out by hand below; a test checks them against finite differences.

The engine runs the result as unfolded sources (``SourceModel.from_unfolded``): the same
updates, frame by frame, in C++.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livesep.checks import check_float, check_int, check_seed
from livesep.errors import ParameterError
from livesep.models.optim import Adam
from livesep.progress import Progress

__all__ = ["UnfoldedModel", "unfolded_masks", "unfolded_loss", "train_unfolded"]

Array = npt.NDArray[np.float64]
EPS = 1e-9
#: Keeps a mask's denominator away from zero where every estimate is.
MASK_FLOOR = 1e-12
#: Beyond this, softplus(y) = log(1 + e^y) is y to double precision (and e^y nears overflow).
SOFTPLUS_LINEAR = 700.0


@dataclass(frozen=True)
class UnfoldedModel:
    """Trained dictionaries: per source, (layers + 1, F, K_s), every column summing to one."""

    dictionaries: tuple[Array, ...]

    @property
    def layers(self) -> int:
        return int(self.dictionaries[0].shape[0]) - 1


def _normalised(theta: Array) -> tuple[Array, Array, Array]:
    """W = softplus(theta) / its column sums, with softplus and the sums for the gradient."""
    positive = np.logaddexp(0.0, theta)
    sums = positive.sum(axis=-2, keepdims=True)
    return positive / sums, positive, sums


def _forward(x: Array, W: Array, ks: Sequence[int]) -> tuple[list[Array], list[Array], Array]:
    """Activations after each update (h^0..h^L), the models y^l and the estimates (S, B, F).
    ``W`` is (L + 1, F, K) with the sources' columns side by side."""
    batch, n_components = x.shape[0], W.shape[2]
    h = [np.full((batch, n_components), 1.0 / n_components)]
    models = []
    for layer in range(W.shape[0] - 1):
        y = h[-1] @ W[layer].T + EPS
        models.append(y)
        h.append(h[-1] * ((x / y) @ W[layer]))
    edges = np.cumsum([0, *ks])
    estimates = np.stack([h[-1][:, a:b] @ W[-1][:, a:b].T for a, b in zip(edges, edges[1:])])
    return h, models, estimates


def unfolded_masks(x: npt.ArrayLike, model: UnfoldedModel) -> Array:
    """The masks (S, B, F) for frames ``x`` (B, F), each scaled to sum to one or zero."""
    W = np.concatenate(model.dictionaries, axis=2).astype(np.float64)
    _, _, estimates = _forward(np.asarray(x, dtype=np.float64), W,
                               [d.shape[2] for d in model.dictionaries])
    powered = estimates ** 2
    return powered / (powered.sum(axis=0) + MASK_FLOOR)


def mask_cost(estimates: Array, x: Array, targets: Array, *, compress: float,
              mask_floor: float) -> tuple[float, Array]:
    """The cost of the masks ``V_s^2 / sum_j V_j^2`` of ``estimates`` (S, B, F) on frames
    ``x`` (B, F) against the sources ``targets`` (S, B, F), on magnitudes compressed by
    ``compress``, per frame; with its gradient with respect to the estimates."""
    powered = estimates ** 2
    total = powered.sum(axis=0) + mask_floor
    masks = powered / total
    masked = masks * x
    tiny = 1e-8
    error = (masked + tiny) ** compress - (targets + tiny) ** compress
    batch = x.shape[0]
    cost = float(np.sum(error ** 2) / batch)
    d_masks = 2.0 * error * compress * (masked + tiny) ** (compress - 1.0) / batch * x
    # M_s = P_s / T with P_s = V_s^2: dM_s/dV_j = 2 V_j (delta_sj - M_s) / T.
    return cost, 2.0 * estimates * (d_masks - np.sum(d_masks * masks, axis=0)) / total


def check_training(epochs: int, batch: int, learning_rate: float, compress: float) -> None:
    """The settings every training here shares, checked."""
    check_int("epochs", epochs, low=0)
    check_int("batch", batch, low=1)
    check_float("learning_rate", learning_rate, low=0.0, low_open=True)
    check_float("compress", compress, low=0.0, high=1.0, low_open=True)


def per_mass(x: Array, targets: Array) -> tuple[Array, Array]:
    """Frames (T, F) and their sources (S, T, F) scaled by each frame's mass; silent frames
    (mass not above 1e-20) left out."""
    mass = x.sum(axis=1, keepdims=True)
    keep = mass[:, 0] > 1e-20
    return x[keep] / mass[keep], targets[:, keep] / mass[keep]


def softplus_inverse(y: Array) -> Array:
    """theta with softplus(theta) = y (y > 0; at least 1e-12). Beyond SOFTPLUS_LINEAR,
    where expm1 overflows, softplus^-1(y) is y itself to double precision."""
    return np.where(y < SOFTPLUS_LINEAR, np.log(np.expm1(np.clip(y, 1e-12, SOFTPLUS_LINEAR))),
                    y)


def descend(theta: Array, n_frames: int, gradient: Callable[[npt.NDArray[np.intp]], Array], *,
            epochs: int, batch: int, learning_rate: float, rng: np.random.Generator,
            progress: Progress | None) -> None:
    """Adam on ``theta`` in place: ``epochs`` passes over ``n_frames`` frames in a random
    order, ``batch`` at a time, ``gradient(chosen)`` the gradient for the frames chosen."""
    optimizer = Adam([theta], learning_rate=learning_rate)
    steps = max(1, epochs * (n_frames // batch))
    done = 0
    for _ in range(epochs):
        order = rng.permutation(n_frames)
        for first in range(0, n_frames - batch + 1, batch):
            optimizer.step([theta], [gradient(order[first:first + batch])])
            done += 1
            if progress is not None:
                progress(done / steps)


def unfolded_loss(theta: Array, x: Array, targets: Array, ks: Sequence[int], *,
                  compress: float = 0.5, gradient: bool = True
                  ) -> tuple[float, Array | None]:
    """The training cost of frames ``x`` (B, F) against their sources ``targets`` (S, B, F)
    (both scaled by the frame's mass), and its gradient with respect to ``theta``
    (L + 1, F, K)."""
    W, positive, sums = _normalised(theta)
    h, models, estimates = _forward(x, W, ks)
    cost, d_estimates = mask_cost(estimates, x, targets, compress=compress,
                                  mask_floor=MASK_FLOOR)
    if not gradient:
        return cost, None
    d_W = np.zeros_like(W)
    edges = np.cumsum([0, *ks])
    d_h = np.empty_like(h[-1])
    for s, (a, b) in enumerate(zip(edges, edges[1:])):
        d_h[:, a:b] = d_estimates[s] @ W[-1][:, a:b]
        d_W[-1][:, a:b] = d_estimates[s].T @ h[-1][:, a:b]
    for layer in range(W.shape[0] - 2, -1, -1):
        previous, y = h[layer], models[layer]
        ratio = x / y
        gain = ratio @ W[layer]
        d_gain = d_h * previous
        d_ratio = d_gain @ W[layer].T
        d_y = -d_ratio * ratio / y
        d_W[layer] = ratio.T @ d_gain + d_y.T @ previous
        d_h = d_h * gain + d_y @ W[layer]
    # Through the column normalisation and the softplus.
    d_positive = (d_W - np.sum(d_W * W, axis=-2, keepdims=True)) / sums
    # softplus'(theta) = sigmoid(theta) = 1 - exp(-softplus(theta)).
    return cost, d_positive * -np.expm1(-positive)


def train_unfolded(frames: npt.ArrayLike, sources: npt.ArrayLike,
                   init: Sequence[npt.ArrayLike], *, layers: int = 10, epochs: int = 10,
                   batch: int = 512, learning_rate: float = 3e-3, compress: float = 0.5,
                   seed: int = 0, progress: Progress | None = None) -> UnfoldedModel:
    """Train unfolded dictionaries on mixture frames whose sources are known.

    Parameters
    ----------
    frames : array-like, shape (T, F)
        Mixture magnitudes.
    sources : array-like, shape (S, T, F)
        Each source's magnitudes in those mixtures.
    init : sequence of array-like
        Per source, a starting dictionary: (F, K_s) (used for every update and the
        estimate) or (layers + 1, F, K_s) (e.g. a trained model to refine).
    layers : int, keyword-only
        Updates per frame, 1 to 64 (with (F, K_s) starting dictionaries).
    epochs, batch, learning_rate : keyword-only
        Passes over the frames, frames per step, Adam's step size.
    compress : float, keyword-only
        The exponent of the magnitudes compared.
    seed : int, keyword-only
        The order of the frames.
    progress : callable, optional, keyword-only
        Called with the fraction done after each step.

    Returns
    -------
    UnfoldedModel
    """
    check_int("layers", layers, low=1, high=64)
    check_training(epochs, batch, learning_rate, compress)
    rng = np.random.default_rng(check_seed(seed))
    x = np.asarray(frames, dtype=np.float64)
    targets = np.asarray(sources, dtype=np.float64)
    if x.ndim != 2 or targets.shape[1:] != x.shape or targets.shape[0] != len(init):
        raise ParameterError(f"frames must be (T, F) and sources (S, T, F) with one starting "
                             f"dictionary per source, got {x.shape}, {targets.shape} and "
                             f"{len(init)}")
    x, targets = per_mass(x, targets)
    starts = []
    for start in init:
        W = np.asarray(start, dtype=np.float64)
        W = np.repeat(W[np.newaxis], layers + 1, axis=0) if W.ndim == 2 else W
        if W.shape[0] != layers + 1 or W.shape[1] != x.shape[1]:
            raise ParameterError(f"a starting dictionary must be (F, K) or ({layers + 1}, F, "
                                 f"K) with F = {x.shape[1]}, got {W.shape}")
        starts.append(np.maximum(W / W.sum(axis=1, keepdims=True), 1e-8))
    ks = [W.shape[2] for W in starts]
    joined = np.concatenate(starts, axis=2)
    # The start scaled to entries near one (the normalisation undoes it); a peaked column
    # scales to as much as F (769 bins at 48 kHz).
    theta = softplus_inverse(joined * joined.shape[1])

    def gradient(chosen: npt.NDArray[np.intp]) -> Array:
        grad = unfolded_loss(theta, x[chosen], targets[:, chosen], ks, compress=compress)[1]
        assert grad is not None
        return grad

    descend(theta, len(x), gradient, epochs=epochs, batch=batch, learning_rate=learning_rate,
            rng=rng, progress=progress)
    W = _normalised(theta)[0].astype(np.float32)
    edges = np.cumsum([0, *ks])
    return UnfoldedModel(tuple(np.ascontiguousarray(W[:, :, a:b])
                               for a, b in zip(edges, edges[1:])))
