"""Separating a signal with a preset: online through the C++ engine, or offline in numpy.

``online`` runs the causal engine block by block exactly as live and removes its latency.
The offline references see the whole signal at once: supervised NMF/PLCA with all the
preset's dictionaries side by side, and the N-FHMM smoothed by forward-backward over every
joint state (the non-causal quality reference for the online filter). Convolutive (NMFD)
sources take part in batch NMF (:func:`livesep.models.nmfd.fit_nmfd_activations`); the
N-FHMM and semi-supervised references refuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.engine import EngineSettings, create_separator
from livesep.errors import ParameterError
from livesep.models.nmf import fit_activations
from livesep.presets import Preset

__all__ = ["separate_online", "separate_offline", "separate_offline_nmf",
           "separate_offline_nfhmm", "separate_offline_semi", "soft_masks", "joint_fits",
           "nfhmm_posteriors", "METHODS"]

#: Separation methods by name: online engine, offline references.
METHODS = ("online", "offline-nmf", "offline-nfhmm")

Progress = Callable[[float], None]
Array = npt.NDArray[np.float64]


def _check_signal(y: npt.ArrayLike) -> npt.NDArray[np.float32]:
    signal = np.ascontiguousarray(y, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise ParameterError(f"the signal must be mono and non-empty, shaped (n,), got shape "
                             f"{signal.shape}")
    return signal


def separate_online(y: npt.ArrayLike, preset: Preset, *, settings: EngineSettings | None = None,
                    block_size: int = 512, progress: Progress | None = None
                    ) -> npt.NDArray[np.float32]:
    """Separate with the causal C++ engine, block by block as a live stream would.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        The trained sources.
    settings : EngineSettings, optional
        Inference settings.
    block_size : int, keyword-only
        Samples per engine call; the result does not depend on it.
    progress : callable, optional
        Called with the fraction done after each block.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
        One stem per source, aligned with ``y`` sample for sample (the engine's latency is
        removed by feeding that many zeros after the end).
    """
    signal = _check_signal(y)
    if block_size < 1:
        raise ParameterError(f"block_size must be >= 1, got {block_size!r}")
    separator = create_separator(preset, settings=settings)
    latency = separator.latency_samples()
    padded = np.concatenate([signal, np.zeros(latency, dtype=np.float32)])
    stems = np.empty((preset.n_sources, padded.size), dtype=np.float32)
    block = np.empty((preset.n_sources, block_size), dtype=np.float32)
    for start in range(0, padded.size, block_size):
        stop = min(start + block_size, padded.size)
        out = block if stop - start == block_size else np.empty(
            (preset.n_sources, stop - start), dtype=np.float32)
        separator.process(padded[start:stop], out=out)
        stems[:, start:stop] = out
        if progress is not None:
            progress(stop / padded.size)
    return stems[:, latency:]


def separate_offline(y: npt.ArrayLike, preset: Preset, *,
                     settings: EngineSettings | None = None,
                     progress: Progress | None = None) -> npt.NDArray[np.float32]:
    """The offline reference that fits the preset: semi-supervised NMF when a source is
    adaptive, batch NMF for an NMF preset, N-FHMM forward-backward for an N-HMM preset.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
    """
    settings = settings or EngineSettings()
    if any(source.adaptive for source in preset.sources):
        stems = separate_offline_semi(y, preset, mask_power=settings.mask_power)
    elif preset.model == "nmf":
        stems = separate_offline_nmf(y, preset, beta=settings.beta, l1=settings.l1,
                                     mask_power=settings.mask_power)
    else:
        return separate_offline_nfhmm(y, preset, settings=settings, progress=progress)
    if progress is not None:
        progress(1.0)
    return stems


def _refuse_convolutive(preset: Preset, method: str) -> None:
    """The state-based references read W as one dictionary per state; lags are not states."""
    convolutive = [source.name for source in preset.sources if source.frames > 1]
    if convolutive:
        raise ParameterError(
            f"offline separation with convolutive sources ({', '.join(map(repr, convolutive))} "
            f"of preset {preset.name!r}): {method} reads W as one dictionary per state; use "
            f"separate_offline_nmf (batch NMFD, livesep.models.nmfd) or the online engine")


def soft_masks(estimates: Array, *, power: float = 2.0) -> Array:
    """Masks M_s = V_s^p / sum_j V_j^p over the first axis; an even split where all are zero.

    Parameters
    ----------
    estimates : np.ndarray, shape (S, F, T)
        Non-negative source estimates.
    power : float, keyword-only
        The exponent p.

    Returns
    -------
    np.ndarray, shape (S, F, T)
    """
    powered = np.asarray(estimates, dtype=np.float64) ** power
    total = powered.sum(axis=0, keepdims=True)
    even = np.full_like(powered, 1.0 / powered.shape[0])
    return np.divide(powered, total, out=even, where=total > 1e-30)


def _apply_masks(X: npt.NDArray[np.complex64], masks: Array, preset: Preset, length: int
                 ) -> npt.NDArray[np.float32]:
    return np.stack([spectral.istft(X * mask, n_fft=preset.n_fft, hop_length=preset.hop_length,
                                    length=length) for mask in masks])


def separate_offline_nmf(y: npt.ArrayLike, preset: Preset, *, n_iter: int = 200,
                         beta: float = 1.0, l1: float = 0.0, mask_power: float = 2.0
                         ) -> npt.NDArray[np.float32]:
    """Batch supervised NMF: every state's dictionary of every source side by side, fixed;
    activations fitted over all frames at once.

    With convolutive sources the fit is NMFD (:func:`livesep.models.nmfd.fit_nmfd_activations`,
    KL for ``beta=1``, least squares for ``beta=2``, no ``l1``): each convolutive template
    spans its frames, the other sources' dictionaries act on the current frame only.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        The trained sources.
    n_iter, beta, l1 : keyword-only
        Activation fit settings (see :func:`livesep.models.nmf.fit_activations`).
    mask_power : float, keyword-only
        Soft-mask exponent.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32

    Raises
    ------
    ParameterError
        For a bad signal, or with convolutive sources and ``beta`` not 1 or 2 or ``l1`` > 0.
    """
    signal = _check_signal(y)
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    V = np.abs(X).astype(np.float64)
    if any(source.frames > 1 for source in preset.sources):
        estimates = _convolutive_nmf(V, preset, n_iter=n_iter, beta=beta, l1=l1)
        return _apply_masks(X, soft_masks(estimates, power=mask_power), preset, signal.size)
    blocks = [np.concatenate(list(source.W.astype(np.float64)), axis=1)
              for source in preset.sources]
    W = np.concatenate(blocks, axis=1)
    H = fit_activations(V, W, beta=beta, n_iter=n_iter, tol=0.0, l1=l1).H
    estimates, offset = [], 0
    for block in blocks:
        k = block.shape[1]
        estimates.append(block @ H[offset:offset + k])
        offset += k
    return _apply_masks(X, soft_masks(np.stack(estimates), power=mask_power), preset, signal.size)


def _convolutive_nmf(V: Array, preset: Preset, *, n_iter: int, beta: float, l1: float
                     ) -> Array:
    """Source estimates (S, F, T) of batch NMFD with every source's dictionary fixed."""
    # Imported here: only presets with convolutive sources need the NMFD code.
    from livesep.models.nmfd import fit_nmfd_activations, source_estimates

    costs = {1.0: "kl", 2.0: "ls"}
    if beta not in costs or l1 != 0:
        raise ParameterError(f"offline NMF with convolutive sources fits KL (beta=1) or least "
                             f"squares (beta=2) without sparsity, got beta={beta!r}, "
                             f"l1={l1!r}")
    # Per source (lags, F, K): a convolutive source's templates; an ordinary source's states
    # side by side at lag 0.
    blocks = [source.W.astype(np.float64) if source.frames > 1
              else np.concatenate(list(source.W.astype(np.float64)), axis=1)[np.newaxis]
              for source in preset.sources]
    # All side by side along K, zero beyond each source's lags. Lags at or beyond T reach
    # only frames after the signal: they are left out of the fit.
    lags = min(max(block.shape[0] for block in blocks), V.shape[1])
    W = np.zeros((lags, V.shape[0], sum(block.shape[2] for block in blocks)))
    offset = 0
    for block in blocks:
        n_lags, k = min(lags, block.shape[0]), block.shape[2]
        W[:n_lags, :, offset:offset + k] = block[:n_lags]
        offset += k
    H = fit_nmfd_activations(V, W, cost=costs[beta], n_iter=n_iter, tol=0.0).H
    return source_estimates(blocks, H)


def separate_offline_semi(y: npt.ArrayLike, preset: Preset, *, n_iter: int = 200,
                          mask_power: float = 2.0) -> npt.NDArray[np.float32]:
    """Semi-supervised batch NMF: the known sources' dictionaries stay fixed, the adaptive
    sources' dictionaries are learned on the mixture itself (starting from the preset's).

    Every state's dictionary of a known source takes part, side by side (as in
    :func:`separate_offline_nmf`); adaptive sources have one state.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        At least one source marked ``adaptive``.
    n_iter : int, keyword-only
        KL multiplicative updates of the activations and the adaptive dictionaries.
    mask_power : float, keyword-only
        Soft-mask exponent.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
    """
    signal = _check_signal(y)
    _refuse_convolutive(preset, "semi-supervised NMF")
    if not any(source.adaptive for source in preset.sources):
        raise ParameterError(f"preset {preset.name!r} has no adaptive source; semi-supervised "
                             "separation learns one of them on the mixture")
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    V = np.abs(X).astype(np.float64)
    blocks = [np.concatenate(list(source.W.astype(np.float64)), axis=1)
              for source in preset.sources]
    edges = np.cumsum([0] + [block.shape[1] for block in blocks])
    learned = np.concatenate([np.full(block.shape[1], source.adaptive)
                              for block, source in zip(blocks, preset.sources)])
    W = np.concatenate(blocks, axis=1)
    H = np.full((W.shape[1], V.shape[1]), V.sum(axis=0) / W.shape[1] + 1e-9)
    for _ in range(n_iter):
        ratio = V / (W @ H + 1e-9)
        H *= (W.T @ ratio) / W.sum(axis=0)[:, None]
        ratio = V / (W @ H + 1e-9)
        W[:, learned] *= (ratio @ H[learned].T) / (H[learned].sum(axis=1) + 1e-12)
        scale = W[:, learned].sum(axis=0)
        W[:, learned] /= scale
        H[learned] *= scale[:, None]
    estimates = np.stack([W[:, a:b] @ H[a:b] for a, b in zip(edges[:-1], edges[1:])])
    return _apply_masks(X, soft_masks(estimates, power=mask_power), preset, signal.size)


class _JointFits:
    """Warm-started KL fits of every joint state, frame after frame, vectorised over states.

    Activations live per source as arrays shaped (Q_1, ..., Q_S, K_s), so that source s's
    contribution for every joint state is one batched product with its Q_s dictionaries.
    """

    def __init__(self, preset: Preset, settings: EngineSettings) -> None:
        _refuse_convolutive(preset, "the N-FHMM reference")
        self.W = [source.W.astype(np.float64) for source in preset.sources]
        self.shape = tuple(source.n_states for source in preset.sources)
        self.n_iter, self.counts = settings.n_iter, settings.likelihood_counts
        self.total = sum(source.n_components for source in preset.sources)
        self.floor = settings.reseed_floor / self.total
        self.column_sums = [W.sum(axis=1) for W in self.W]  # (Q_s, K_s)
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

    def step(self, v: Array) -> tuple[Array, float]:
        """Fit frame v (F,); returns the log-likelihoods (Q_1, ..., Q_S) and the frame mass."""
        mass = float(v.sum())
        if not mass > 1e-20:
            return np.zeros(self.shape), 0.0
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


def _transition(x: Array, matrices: list[Array], *, forward: bool) -> Array:
    """Apply every source's transition matrix along its axis of the joint-state tensor."""
    for s, A in enumerate(matrices):
        x = np.moveaxis(np.tensordot(x, A if forward else A.T, axes=([s], [0])), -1, s)
    return x


def joint_fits(preset: Preset, settings: EngineSettings, V: Array
               ) -> Iterator[tuple[_JointFits, Array, float]]:
    """Frame by frame over V (F, T): the warm-started fits of every joint state, their
    log-likelihoods (Q_1, ..., Q_S) and the frame's mass, as the exact online filter fits."""
    fits = _JointFits(preset, settings)
    for v in V.T:
        log_likelihoods, mass = fits.step(v)
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
        predicted = prior if t == 0 else _transition(alpha[t - 1], matrices, forward=True)
        alpha[t] = predicted * scaled[t]
        alpha[t] /= alpha[t].sum()
    posteriors = alpha
    beta = np.ones(prior.shape)
    for t in range(T - 2, -1, -1):
        beta = _transition(scaled[t + 1] * beta, matrices, forward=False)
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
        n_iter, likelihood_counts, reseed_floor and mask_power are used; beam is not.
    progress : callable, optional
        Called with the fraction done.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
    """
    settings = settings or EngineSettings()
    signal = _check_signal(y)
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    V = np.abs(X).astype(np.float64)
    half = None if progress is None else (lambda fraction: progress(0.5 * fraction))
    posteriors = nfhmm_posteriors(V, preset, settings, half)
    estimates = np.empty((preset.n_sources,) + V.shape)
    T = V.shape[1]
    for t, (fits, _, mass) in enumerate(joint_fits(preset, settings, V)):
        estimates[:, :, t] = fits.estimates(posteriors[t], mass)
        if progress is not None:
            progress(0.5 + 0.5 * (t + 1) / T)
    masks = soft_masks(estimates, power=settings.mask_power)
    return _apply_masks(X, masks, preset, signal.size)
