"""Non-negative autoencoders: the model, its training, code fitting and supervised separation.

The model, its costs, its optimiser and the scale every spectrogram is brought to before it
reaches a network are described in :mod:`livesep.models.nae`, the package's public face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from livesep.checks import check_choice, check_float, check_int, check_seed
from livesep.errors import ParameterError
from livesep.models._common import check_spectrogram, iteration_progress
from livesep.models.nae._net import (
    autoencoder_cost,
    data_term,
    forward,
    latent_cost,
    softplus,
)
from livesep.models.optim import OPTIMIZERS, make_optimizer
from livesep.progress import Progress

__all__ = [
    "NaeModel",
    "LatentFit",
    "train_nae",
    "fit_latent",
    "separate_nae",
]

Array = npt.NDArray[np.float64]

#: Largest accepted width and depth (sanity bounds, far above any useful model).
_MAX_COMPONENTS = 8192
_MAX_DEPTH = 8
#: The mean every spectrogram is scaled to, per source, before it reaches a network.
_LEVEL = 1.0


# --------------------------------------------------------------------------------------------
# The model


@dataclass(eq=False)
class NaeModel:
    """A trained non-negative autoencoder (works on spectrograms scaled to mean 1).

    Attributes
    ----------
    encoder : list of np.ndarray
        ``depth`` matrices: (K, F), then (K, K) ….
    decoder : list of np.ndarray
        ``depth`` matrices: (K, K) …, then (F, K).
    l1 : float
        The sparsity weight it was trained with.
    costs : list of float
        ``KL + l1 Σ H`` of every iterate on the normalised data, ``costs[0]`` at the
        initialisation (length ``n_iter + 1``).
    n_iter : int
        Training steps run.
    """

    encoder: list[Array]
    decoder: list[Array]
    l1: float = 0.0
    costs: list[float] = field(default_factory=list)
    n_iter: int = 0

    @property
    def n_components(self) -> int:
        """``K``, the width of the code."""
        return int(self.decoder[0].shape[1])

    @property
    def n_bins(self) -> int:
        """``F``, the frequency bins of the spectrograms it models."""
        return int(self.decoder[-1].shape[0])

    @property
    def depth(self) -> int:
        """Layers in the decoder (1 shallow, 2 the paper's deeper model)."""
        return len(self.decoder)

    def encode(self, X: npt.ArrayLike) -> Array:
        """``H`` (K, T) for a normalised spectrogram ``X`` (F, T)."""
        return forward(self.encoder, np.asarray(X, dtype=np.float64))[1][-1]

    def decode(self, H: npt.ArrayLike) -> Array:
        """``X̂`` (F, T), normalised units, for a code ``H`` (K, T)."""
        return forward(self.decoder, np.asarray(H, dtype=np.float64))[1][-1]

    def reconstruct(self, V: npt.ArrayLike) -> Array:
        """``decode(encode(V / mean V)) · mean V``, shape (F, T), in the units of ``V``."""
        data = check_spectrogram(V)
        level = float(data.mean())
        return self.decode(self.encode(data / level)) * level


def _check_common(n_iter: object, learning_rate: object, optimizer: object, l1: object
                  ) -> tuple[int, float, str, float]:
    return (check_int("n_iter", n_iter, low=0),
            check_float("learning_rate", learning_rate, low_open=True, high=10.0),
            check_choice("optimizer", optimizer, OPTIMIZERS),
            check_float("l1", l1))


def _init_weights(rng: np.random.Generator, shape: tuple[int, int]) -> Array:
    """Normal with variance ``1 / fan_in``."""
    return rng.standard_normal(shape) / np.sqrt(shape[1])


def train_nae(V: npt.ArrayLike, *, n_components: int, depth: int = 1, l1: float = 0.0,
              n_iter: int = 1000, learning_rate: float = 0.003, optimizer: str = "rprop",
              seed: int = 0, progress: Progress | None = None) -> NaeModel:
    """Train a non-negative autoencoder on one source's magnitude spectrogram.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative, finite, not all zero. Divided by its mean before training.
    n_components : int, keyword-only
        ``K``, the code width (and every hidden layer's width).
    depth : int, keyword-only
        Layers in the decoder and (symmetrically) in the encoder: 1 shallow, 2 deeper.
    l1 : float, keyword-only
        Weight of ``Σ H`` (sparsity of the code), in units of the summed divergence.
    n_iter : int, keyword-only
        Full-batch optimisation steps.
    learning_rate : float, keyword-only
        RProp's initial step (per weight), or Adam's step.
    optimizer : {"rprop", "adam"}, keyword-only
        See the module docstring.
    seed : int, keyword-only
        Seed of the weight initialisation; equal seeds give equal models.
    progress : callable, optional, keyword-only
        Called with the fraction done as the iterations run.

    Returns
    -------
    NaeModel

    Raises
    ------
    ParameterError
        For bad data or settings; the message shows the bad value.
    """
    data = check_spectrogram(V)
    K = check_int("n_components", n_components, low=1, high=_MAX_COMPONENTS)
    depth = check_int("depth", depth, low=1, high=_MAX_DEPTH)
    n_iter, learning_rate, optimizer, l1 = _check_common(n_iter, learning_rate, optimizer, l1)
    rng = np.random.default_rng(check_seed(seed))

    X = data * (_LEVEL / float(data.mean()))
    F = X.shape[0]
    widths = [F] + [K] * depth
    encoder = [_init_weights(rng, (widths[i + 1], widths[i])) for i in range(depth)]
    decoder = [_init_weights(rng, (widths[i], widths[i + 1])) for i in range(depth - 1, -1, -1)]
    params = encoder + decoder
    solver = make_optimizer(optimizer, params, learning_rate=learning_rate)
    costs: list[float] = []
    constant = data_term(X)
    with iteration_progress(n_iter, progress) as bar:
        for step in range(n_iter + 1):
            cost, grads = autoencoder_cost(encoder, decoder, X, l1=l1, constant=constant,
                                           gradients=step < n_iter)
            costs.append(cost)
            if step == n_iter:
                break
            solver.step(params, grads)
            bar.advance()
        bar.finish()
    return NaeModel(encoder=encoder, decoder=decoder, l1=l1, costs=costs, n_iter=n_iter)


# --------------------------------------------------------------------------------------------
# Fitting codes with fixed decoders


@dataclass(eq=False)
class LatentFit:
    """Codes fitted with fixed decoders: ``Σ_s decoder_s(H_s) ≈ V``.

    Attributes
    ----------
    H : list of np.ndarray
        Per source, shape (K_s, T): the fitted codes (normalised units).
    sources : np.ndarray, shape (S, F, T)
        Per-source reconstructions ``decoder_s(H_s)`` in the units of ``V``.
    costs : list of float
        ``KL + l1 Σ H`` of every iterate on the normalised data (length ``n_iter + 1``).
    n_iter : int
        Steps run.
    """

    H: list[Array]
    sources: Array
    costs: list[float] = field(default_factory=list)
    n_iter: int = 0

    @property
    def reconstruction(self) -> Array:
        """``Σ_s sources[s]``, shape (F, T)."""
        return self.sources.sum(axis=0)


def _check_models(models: NaeModel | Sequence[NaeModel], n_bins: int) -> list[NaeModel]:
    chosen = [models] if isinstance(models, NaeModel) else list(models)
    if not chosen:
        raise ParameterError("at least one model is needed, got an empty sequence")
    for index, model in enumerate(chosen):
        if not isinstance(model, NaeModel):
            raise ParameterError(f"models[{index}] must be an NaeModel, got "
                                 f"{type(model).__name__}")
        if model.n_bins != n_bins:
            raise ParameterError(f"models[{index}] models {model.n_bins} bins but V has "
                                 f"{n_bins}")
    return chosen


def fit_latent(V: npt.ArrayLike, models: NaeModel | Sequence[NaeModel], *, l1: float = 0.0,
               n_iter: int = 300, learning_rate: float = 0.01, optimizer: str = "rprop",
               init: str = "zeros", progress: Progress | None = None) -> LatentFit:
    """Fit each fixed decoder's code so that the decoders' outputs sum to ``V``.

    ``H_s = g(U_s)`` keeps the codes non-negative; ``U_s`` is optimised without constraint.
    ``V`` is scaled to mean ``S`` (one unit per source) before fitting.

    Parameters
    ----------
    V : array-like, shape (F, T)
        The spectrogram to explain (a mixture, or one source with one model).
    models : NaeModel or sequence of NaeModel
        One per source; only their decoders are used (their encoders start the codes).
    l1 : float, keyword-only
        Weight of ``Σ_s Σ H_s`` (paper eq. 9).
    n_iter, learning_rate, optimizer : keyword-only
        Optimisation settings, as for :func:`train_nae`.
    init : {"zeros", "encoder"}, keyword-only
        Start every ``U_s`` at zero (``H_s = log 2`` everywhere, the default), or at the
        pre-activation of source ``s``'s encoder on ``V``. The encoder is a poor start on
        mixtures (the paper warns it is unreliable there): it lowered the SDR in our tests.
    progress : callable, optional, keyword-only
        Called with the fraction done as the iterations run.

    Returns
    -------
    LatentFit
    """
    data = check_spectrogram(V)
    chosen = _check_models(models, data.shape[0])
    n_iter, learning_rate, optimizer, l1 = _check_common(n_iter, learning_rate, optimizer, l1)
    init = check_choice("init", init, ("encoder", "zeros"))
    scale = _LEVEL * len(chosen) / float(data.mean())
    X = data * scale
    T = X.shape[1]
    if init == "encoder":
        codes = [forward(m.encoder, X)[0][-1] for m in chosen]
    else:
        codes = [np.zeros((m.n_components, T)) for m in chosen]
    solver = make_optimizer(optimizer, codes, learning_rate=learning_rate)
    costs: list[float] = []
    constant = data_term(X)
    with iteration_progress(n_iter, progress) as bar:
        for step in range(n_iter + 1):
            cost, grads, outputs = latent_cost([m.decoder for m in chosen], codes, X, l1=l1,
                                               constant=constant, gradients=step < n_iter)
            costs.append(cost)
            if step == n_iter:
                break
            solver.step(codes, grads)
            bar.advance()
        bar.finish()
    return LatentFit(H=[softplus(U) for U in codes], sources=outputs / scale, costs=costs,
                     n_iter=n_iter)


def separate_nae(y: npt.ArrayLike, models: Sequence[NaeModel], *, n_fft: int = 512,
                 hop_length: int = 128, l1: float = 0.0, n_iter: int = 300,
                 learning_rate: float = 0.01, optimizer: str = "rprop",
                 mask_power: float = 1.0) -> npt.NDArray[np.float32]:
    """Supervised separation of a mixture with one trained NAE per source (offline).

    Parameters
    ----------
    y : array-like, shape (n,)
        The mono mixture, at the rate the models were trained at.
    models : sequence of NaeModel
        One per source, trained on magnitude spectrograms of the same ``n_fft``/``hop``.
    n_fft, hop_length : int, keyword-only
        The STFT (:mod:`livesep.spectral`, framed like the engine).
    l1, n_iter, learning_rate, optimizer : keyword-only
        Settings of :func:`fit_latent`.
    mask_power : float, keyword-only
        ``p`` of the soft masks ``X̂_s^p / Σ_j X̂_j^p`` (1 is the paper's eq. 10).

    Returns
    -------
    np.ndarray, shape (S, n), float32
        One signal per model, aligned with ``y``.
    """
    from livesep import spectral
    from livesep.spectral import soft_masks

    signal = np.asarray(y, dtype=np.float64)
    if signal.ndim != 1 or signal.size == 0:
        raise ParameterError(f"the mixture must be mono and non-empty, shaped (n,), got shape "
                             f"{signal.shape}")
    mask_power = check_float("mask_power", mask_power, low_open=True, high=16.0)
    X = spectral.stft(signal, n_fft=n_fft, hop_length=hop_length)
    fit = fit_latent(np.abs(X), models, l1=l1, n_iter=n_iter, learning_rate=learning_rate,
                     optimizer=optimizer)
    masks = soft_masks(fit.sources, power=mask_power)
    return np.stack([spectral.istft(X * mask, n_fft=n_fft, hop_length=hop_length,
                                    length=signal.size) for mask in masks])
