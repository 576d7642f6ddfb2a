"""The N-FHMM smoothed by forward-backward over every joint state: the non-causal quality
reference for the online filter, and the state posteriors per-state processing uses."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.engine import EngineSettings
from livesep.presets import Preset
from livesep.progress import Progress, part_of
from livesep.separation.signals import (
                                        apply_masks,
                                        check_signal,
                                        refuse_convolutive,
                                        refuse_unfolded,
)
from livesep.spectral import soft_masks

__all__ = ["JointFits", "transition", "joint_fits", "nfhmm_posteriors", "separate_offline_nfhmm"]

Array = npt.NDArray[np.float64]


class JointFits:
    """Warm-started KL fits of every joint state, frame after frame, vectorised over states.

    Activations live per source as arrays shaped (Q_1, ..., Q_S, K_s), so that source s's
    contribution for every joint state is one batched product with its Q_s dictionaries. A
    source with a noise floor has it as its last column in every state, from the ``floor``
    given to :meth:`step`, as in the engine.
    """

    def __init__(self, preset: Preset, settings: EngineSettings) -> None:
        settings = settings.resolved(preset)
        refuse_convolutive(preset, "the N-FHMM reference")
        refuse_unfolded(preset, "the N-FHMM reference")
        self.weights = [source.floor for source in preset.sources]
        self.W = [np.pad(source.W.astype(np.float64), ((0, 0), (0, 0), (0, 1))) if source.floor
                  else source.W.astype(np.float64) for source in preset.sources]
        self.shape = tuple(source.n_states for source in preset.sources)
        self.n_iter, self.counts = settings.n_iter, settings.likelihood_counts
        self.total = sum(W.shape[2] for W in self.W)
        self.floor = settings.reseed_floor / self.total
        self.column_sums = [W.sum(axis=1) for W in self.W]  # (Q_s, K_s)
        for sums, weight in zip(self.column_sums, self.weights):
            if weight:
                sums[:, -1] = weight
        self.H = [np.full(self.shape + (W.shape[2],), 1.0 / self.total) for W in self.W]

    def _per_source(self, s: int, x: Array, W: Array) -> Array:
        """Batched product along source s's state axis: x (..., in) @ W[q] for each q_s."""
        moved = np.moveaxis(x, s, 0)
        rest = moved.shape[1:-1]
        flat = moved.reshape(moved.shape[0], -1, moved.shape[-1])
        product = np.matmul(flat, W)
        return np.moveaxis(product.reshape((moved.shape[0],) + rest + (W.shape[-1],)), 0, s)

    def _model(self) -> Array:
        return sum(self._per_source(s, H, np.swapaxes(W, 1, 2))
                   for s, (H, W) in enumerate(zip(self.H, self.W))) + 1e-9

    def step(self, v: Array, floor: Array | None = None) -> tuple[Array, float]:
        """Fit frame v (F,) (with ``floor`` (F,), the noise floor under it, for sources that
        have one); returns the log-likelihoods (Q_1, ..., Q_S) and the frame mass."""
        mass = float(v.sum())
        if not mass > 1e-20:
            return np.zeros(self.shape), 0.0
        for W, weight in zip(self.W, self.weights):
            if weight and floor is not None:
                W[:, :, -1] = spectral.floor_columns(floor, weight)
        frame = v / mass
        self.H = [np.maximum(H, self.floor) for H in self.H]
        for _ in range(self.n_iter):
            ratio = frame / self._model()
            self.H = [H * self._per_source(s, ratio, W)
                      / self.column_sums[s].reshape(self._sum_shape(s))
                      for s, (H, W) in enumerate(zip(self.H, self.W))]
        model = self._model()
        log_likelihoods = self.counts * (np.log(model) @ frame - np.log(model.sum(axis=-1)))
        return log_likelihoods, mass

    def _sum_shape(self, s: int) -> tuple[int, ...]:
        shape = [1] * len(self.shape) + [self.W[s].shape[2]]
        shape[s] = self.shape[s]
        return tuple(shape)

    def state_estimates(self, posterior: Array, mass: float, source: int) -> Array:
        """sum over c with q_s = q of posterior(c) W_s[q] h_{c,s} * mass, shape (Q_s, F)."""
        axes = tuple(a for a in range(len(self.shape)) if a != source)
        weighted = np.sum(posterior[..., None] * self.H[source], axis=axes)  # (Q_s, K_s)
        return np.einsum("qfk,qk->qf", self.W[source], weighted) * mass

    def estimates(self, posterior: Array, mass: float) -> Array:
        """sum_c posterior(c) W_s[q_s] h_{c,s} * mass for every source, shape (S, F)."""
        return np.stack([self.state_estimates(posterior, mass, s).sum(axis=0)
                         for s in range(len(self.W))])


def transition(x: Array, matrices: list[Array], *, forward: bool) -> Array:
    """Apply every source's transition matrix along its axis of the joint-state tensor."""
    for s, A in enumerate(matrices):
        x = np.moveaxis(np.tensordot(x, A if forward else A.T, axes=([s], [0])), -1, s)
    return x


def joint_fits(preset: Preset, settings: EngineSettings, V: Array
               ) -> Iterator[tuple[JointFits, Array, float]]:
    """Frame by frame over V (F, T): the warm-started fits of every joint state, their
    log-likelihoods (Q_1, ..., Q_S) and the frame's mass, as the exact online filter fits."""
    fits = JointFits(preset, settings)
    floors = spectral.noise_floor(V.T, sr=preset.sr, hop_length=preset.hop_length) \
        if any(source.floor for source in preset.sources) else None
    for t, v in enumerate(V.T):
        log_likelihoods, mass = fits.step(v, None if floors is None else floors[t])
        yield fits, log_likelihoods, mass


def nfhmm_posteriors(V: Array, preset: Preset, settings: EngineSettings,
                     progress: Progress | None = None) -> Array:
    """Smoothed joint-state posteriors P(c_t | all frames) by forward-backward.

    Parameters
    ----------
    V : np.ndarray, shape (F, T)
        Mixture magnitudes.

    Returns
    -------
    np.ndarray, shape (T, Q_1, ..., Q_S)
    """
    T = V.shape[1]
    matrices = [source.A.astype(np.float64) for source in preset.sources]
    prior = np.ones(())
    for source in preset.sources:
        prior = np.multiply.outer(prior, source.pi.astype(np.float64))
    log_likelihoods = np.empty((T,) + prior.shape)
    for t, (_, frame_ll, _) in enumerate(joint_fits(preset, settings, V)):
        log_likelihoods[t] = frame_ll
        if progress is not None:
            progress((t + 1) / T)
    scaled = np.exp(log_likelihoods - log_likelihoods.reshape(T, -1).max(axis=1).reshape(
        (T,) + (1,) * prior.ndim))
    alpha = np.empty_like(scaled)
    for t in range(T):
        predicted = prior if t == 0 else transition(alpha[t - 1], matrices, forward=True)
        alpha[t] = predicted * scaled[t]
        alpha[t] /= alpha[t].sum()
    posteriors = alpha
    beta = np.ones(prior.shape)
    for t in range(T - 2, -1, -1):
        beta = transition(scaled[t + 1] * beta, matrices, forward=False)
        beta /= beta.sum()
        posteriors[t] = alpha[t] * beta
        posteriors[t] /= posteriors[t].sum()
    return posteriors


def separate_offline_nfhmm(y: npt.ArrayLike, preset: Preset, *,
                           settings: EngineSettings | None = None,
                           progress: Progress | None = None) -> npt.NDArray[np.float32]:
    """The N-FHMM smoothed by forward-backward over every joint state (non-causal).

    The per-frame fits and likelihoods are those of the online filter in exact mode; the
    state posteriors use the whole signal instead of the past only. Two passes over the
    frames (likelihoods, then estimates from recomputed fits) keep memory at O(T * J).

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        The trained sources.
    settings : EngineSettings, optional
        n_iter, likelihood_counts, reseed_floor, mask_power and smoothing are used; beam is
        not.
    progress : callable, optional
        Called with the fraction done.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
    """
    settings = settings or EngineSettings()
    signal = check_signal(y)
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    V = np.abs(X).astype(np.float64)
    posteriors = nfhmm_posteriors(V, preset, settings, part_of(progress, 0.0, 0.5))
    estimates = np.empty((preset.n_sources,) + V.shape)
    T = V.shape[1]
    for t, (fits, _, mass) in enumerate(joint_fits(preset, settings, V)):
        estimates[:, :, t] = fits.estimates(posteriors[t], mass)
        if progress is not None:
            progress(0.5 + 0.5 * (t + 1) / T)
    masks = soft_masks(estimates, power=settings.mask_power)
    return apply_masks(X, masks, preset, signal.size,
                       smoothing=settings.resolved(preset).smoothing or 0.0)
