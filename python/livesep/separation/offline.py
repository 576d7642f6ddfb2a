"""Offline (non-causal) separation references that see the whole signal at once.

Supervised NMF/PLCA with all the preset's dictionaries side by side, semi-supervised NMF
that learns the adaptive sources on the mixture, the layered fit of unfolded (deep NMF)
sources, and the dispatch to the N-FHMM smoothed by forward-backward
(:mod:`livesep.separation.nfhmm`). Convolutive (NMFD) sources take part in batch NMF
(:func:`livesep.models.nmfd.fit_nmfd_activations`); the N-FHMM and semi-supervised
references refuse them. Unfolded sources have only their own fit, which knows no time: it
is the engine's, frame by frame (:class:`~livesep.separation.reference_fit.UnfoldedFit`).
A recurrent encoder (model ``"nae"``) is causal: offline it runs as online, in numpy. A
preset with a companion mixes the two models' masks as the engine does, for models fitted
frame by frame (unfolded sources, a recurrent encoder).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.engine import EngineSettings, fit_band_edges
from livesep.errors import ParameterError
from livesep.models.nae import recurrent_estimates
from livesep.models.nmf import fit_activations
from livesep.presets import Preset
from livesep.progress import Progress
from livesep.separation.nfhmm import separate_offline_nfhmm
from livesep.separation.reference_fit import UnfoldedFit
from livesep.separation.signals import (
                                        apply_masks,
                                        check_signal,
                                        refuse_convolutive,
                                        refuse_unfolded,
)
from livesep.spectral import soft_masks

__all__ = ["blended_masks", "frame_masks", "separate_offline", "separate_offline_blend",
           "separate_offline_nmf", "separate_offline_recurrent", "separate_offline_semi",
           "separate_offline_unfolded"]

Array = npt.NDArray[np.float64]


def separate_offline(y: npt.ArrayLike, preset: Preset, *,
                     settings: EngineSettings | None = None,
                     progress: Progress | None = None) -> npt.NDArray[np.float32]:
    """The offline reference that fits the preset: semi-supervised NMF when a source is
    adaptive, the layered fit for unfolded sources, the recurrent encoder for model
    ``"nae"``, batch NMF for another NMF preset, N-FHMM forward-backward for an N-HMM
    preset.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
    """
    if preset.companion is not None:
        stems = separate_offline_blend(y, preset, settings=settings)
        if progress is not None:
            progress(1.0)
        return stems
    settings = (settings or EngineSettings()).resolved(preset)
    masks = {"mask_power": settings.mask_power, "smoothing": settings.smoothing}
    if any(source.adaptive for source in preset.sources):
        stems = separate_offline_semi(y, preset, **masks)
    elif preset.encoder is not None:
        stems = separate_offline_recurrent(y, preset, **masks)
    elif preset.sources[0].layers:
        stems = separate_offline_unfolded(y, preset, beta=settings.beta, l1=settings.l1,
                                          **masks)
    elif preset.model == "nmf" and not any(source.floor for source in preset.sources):
        stems = separate_offline_nmf(y, preset, beta=settings.beta, l1=settings.l1, **masks)
    else:
        return separate_offline_nfhmm(y, preset, settings=settings, progress=progress)
    if progress is not None:
        progress(1.0)
    return stems


def separate_offline_nmf(y: npt.ArrayLike, preset: Preset, *, n_iter: int = 200,
                         beta: float = 1.0, l1: float = 0.0, mask_power: float = 2.0,
                         smoothing: float = 0.0) -> npt.NDArray[np.float32]:
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
    smoothing : float, keyword-only
        The masks' smoothing over time in seconds, as the engine's (0 for none).

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32

    Raises
    ------
    ParameterError
        For a bad signal, unfolded sources, a noise floor, or with convolutive sources and
        ``beta`` not 1 or 2 or ``l1`` > 0.
    """
    signal = check_signal(y)
    refuse_unfolded(preset, "batch NMF")
    floored = [source.name for source in preset.sources if source.floor]
    if floored:
        raise ParameterError(f"batch NMF holds every dictionary fixed, but "
                             f"{', '.join(map(repr, floored))} of preset {preset.name!r} "
                             f"track a noise floor frame by frame; use separate_offline (the "
                             f"N-FHMM reference) or the online engine")
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    V = np.abs(X).astype(np.float64)
    if any(source.frames > 1 for source in preset.sources):
        estimates = _convolutive_nmf(V, preset, n_iter=n_iter, beta=beta, l1=l1)
        return apply_masks(X, soft_masks(estimates, power=mask_power), preset, signal.size,
                       smoothing=smoothing)
    blocks = [np.concatenate(list(source.W.astype(np.float64)), axis=1)
              for source in preset.sources]
    W = np.concatenate(blocks, axis=1)
    H = fit_activations(V, W, beta=beta, n_iter=n_iter, tol=0.0, l1=l1).H
    estimates, offset = [], 0
    for block in blocks:
        k = block.shape[1]
        estimates.append(block @ H[offset:offset + k])
        offset += k
    return apply_masks(X, soft_masks(np.stack(estimates), power=mask_power), preset, signal.size,
                       smoothing=smoothing)


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
                          mask_power: float = 2.0, smoothing: float = 0.0
                          ) -> npt.NDArray[np.float32]:
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
    smoothing : float, keyword-only
        The masks' smoothing over time in seconds, as the engine's (0 for none).

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
    """
    signal = check_signal(y)
    refuse_convolutive(preset, "semi-supervised NMF")
    refuse_unfolded(preset, "semi-supervised NMF")
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
    return apply_masks(X, soft_masks(estimates, power=mask_power), preset, signal.size,
                       smoothing=smoothing)


def separate_offline_unfolded(y: npt.ArrayLike, preset: Preset, *, beta: float = 1.0,
                              l1: float = 0.0, mask_power: float = 2.0,
                              smoothing: float = 0.0) -> npt.NDArray[np.float32]:
    """Unfolded (deep NMF) sources: the engine's layered fit of every frame, all frames at
    once, in numpy (:class:`~livesep.separation.reference_fit.UnfoldedFit`).

    The fit starts afresh every frame and a noise floor (a source's ``floor``) is tracked
    causally through the frames in order, so this is what the online engine computes,
    within float32 rounding, without its latency.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        Unfolded sources (``layers > 0``).
    beta, l1 : float, keyword-only
        The updates' β-divergence and sparsity, as in
        :class:`~livesep.engine.EngineSettings`.
    mask_power : float, keyword-only
        Soft-mask exponent.
    smoothing : float, keyword-only
        The masks' smoothing over time in seconds, as the engine's (0 for none).

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32

    Raises
    ------
    ParameterError
        For a bad signal, or if the sources are not unfolded.
    """
    signal = check_signal(y)
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    return apply_masks(X, _unfolded_masks(np.abs(X).T, preset, beta=beta, l1=l1,
                                          mask_power=mask_power),
                       preset, signal.size, smoothing=smoothing)


def separate_offline_recurrent(y: npt.ArrayLike, preset: Preset, *, mask_power: float = 2.0,
                               smoothing: float = 0.0) -> npt.NDArray[np.float32]:
    """A model ``"nae"`` preset: its recurrent encoder over every frame in order, in numpy
    (:func:`livesep.models.nae.recurrent_estimates`).

    The encoder is causal, so this is what the online engine computes, within float32
    rounding, without its latency.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        Model ``"nae"``.
    mask_power : float, keyword-only
        Soft-mask exponent.
    smoothing : float, keyword-only
        The masks' smoothing over time in seconds, as the engine's (0 for none).

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32

    Raises
    ------
    ParameterError
        For a bad signal, or a preset without an encoder.
    """
    signal = check_signal(y)
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    return apply_masks(X, _recurrent_masks(np.abs(X).T, preset, mask_power=mask_power), preset,
                       signal.size, smoothing=smoothing)


def separate_offline_blend(y: npt.ArrayLike, preset: Preset, *,
                           settings: EngineSettings | None = None) -> npt.NDArray[np.float32]:
    """A preset with a companion: ``(1 - share)`` of its masks and ``share`` of the
    companion's (on the lower bins for a companion at a lower rate), then smoothed with the
    preset's smoothing, as the engine mixes them.
    Both are fitted frame by frame (:func:`frame_masks`), so this is what the online engine
    computes, within float32 rounding, without its latency.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        With a companion; both unfolded or with a recurrent encoder.
    settings : EngineSettings, optional
        Inference settings (``beta``, ``l1``, ``mask_power``, ``smoothing``).

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32

    Raises
    ------
    ParameterError
        For a bad signal, no companion, or a model not fitted frame by frame.
    """
    signal = check_signal(y)
    if preset.companion is None:
        raise ParameterError(f"preset {preset.name!r} has no companion")
    resolved = (settings or EngineSettings()).resolved(preset)
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    V = np.abs(X).T
    masks = blended_masks(V, V, preset, settings=resolved, hop_length=preset.hop_length)
    return apply_masks(X, masks, preset, signal.size, smoothing=resolved.smoothing)


def blended_masks(fit: Array, masked: Array, preset: Preset, *, settings: EngineSettings,
                  hop_length: int) -> Array:
    """The masks (S, F, T) of a preset fitted frame by frame, its companion's (if any)
    mixed in with its share on the bins it covers. Each model reads its frames (T, F):
    ``masked`` (the frames the masks act on) for a recurrent encoder, ``fit`` (the
    symmetric ones) for dictionaries; outside the low-delay modes they are one array. The
    noise floor is tracked on the frames read: one tracker over the preset's bins serves a
    companion reading the same frames (a companion at a lower rate reads the lower ones),
    as in the engine; one reading the others tracks its own."""
    options = {"beta": settings.beta, "l1": settings.l1, "mask_power": settings.mask_power}
    frames = {False: fit, True: masked}
    reads = preset.encoder is not None
    V = frames[reads]
    floor = spectral.noise_floor(V, sr=preset.sr, hop_length=hop_length)
    masks = frame_masks(V, preset, floor=floor, **options)
    companion = preset.companion
    if companion is None:
        return masks
    covered = companion.n_bins
    if fit is masked or (companion.encoder is not None) == reads:
        theirs = frame_masks(V[:, :covered], companion, floor=floor[:, :covered], **options)
    else:
        other = frames[not reads][:, :covered]
        theirs = frame_masks(other, companion, floor=spectral.noise_floor(
            other, sr=preset.sr, hop_length=hop_length), **options)
    share = preset.companion_share
    masks[:, :covered] = (1.0 - share) * masks[:, :covered] + share * theirs
    return masks


def frame_masks(V: npt.ArrayLike, preset: Preset, *, beta: float = 1.0, l1: float = 0.0,
                mask_power: float = 2.0, floor: npt.ArrayLike | None = None) -> Array:
    """The masks (S, F, T) of a model fitted frame by frame from frames ``V`` (T, F): the
    layered fit of unfolded sources (with a noise floor: tracked through the frames in
    order, or ``floor`` (T, F) when given) or a recurrent encoder.

    Raises
    ------
    ParameterError
        For any other model.
    """
    if preset.encoder is not None:
        return _recurrent_masks(V, preset, mask_power=mask_power, floor=floor)
    if preset.sources[0].layers:
        return _unfolded_masks(V, preset, beta=beta, l1=l1, mask_power=mask_power, floor=floor)
    raise ParameterError(f"preset {preset.name!r} is not fitted frame by frame (unfolded "
                         f"sources or a recurrent encoder), so its masks cannot be mixed "
                         f"offline with another model's")


def _unfolded_masks(V: npt.ArrayLike, preset: Preset, *, beta: float, l1: float,
                    mask_power: float, floor: npt.ArrayLike | None = None) -> Array:
    # The preset's own bands (Preset.fit_bands_above), as the engine fits it by default.
    fit = UnfoldedFit(preset, beta=beta, l1=l1, bands=fit_band_edges(preset, EngineSettings()))
    frames = np.asarray(V, dtype=np.float64)
    if not any(source.floor for source in preset.sources):
        floor = None
    elif floor is None:
        floor = spectral.noise_floor(frames, sr=preset.sr, hop_length=preset.hop_length)
    return soft_masks(fit.estimates(frames, floor).transpose(1, 2, 0), power=mask_power)


def _recurrent_masks(V: npt.ArrayLike, preset: Preset, *, mask_power: float,
                     floor: npt.ArrayLike | None = None) -> Array:
    estimates = recurrent_estimates(preset, np.asarray(V, dtype=np.float64), floor=floor)
    return soft_masks(estimates.transpose(1, 2, 0), power=mask_power)
