"""The engine's activation fits in vectorised numpy, for the reference engine
(:mod:`livesep.separation.reference_engine`) and offline separation: batches of
multiplicative updates in float32 as the engine makes them, and the layered fit of unfolded
(deep NMF) sources, optionally on bands (:func:`livesep.spectral.fit_bands`) with the
estimates at full resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.errors import ParameterError
from livesep.presets import Preset

__all__ = ["UnfoldedFit", "multiplicative_updates", "F32", "Floats", "EPSILON"]

F32 = np.float32
Floats = npt.NDArray[np.float32]
#: The engine's floor on the model ``D h`` (ActivationSettings::epsilon).
EPSILON = F32(1e-9)
_TINY = F32(1e-30)


def multiplicative_updates(D: Floats, h: Floats, rows: Floats, kl_denominator: Floats, *,
                           beta: float, l1: float, n_iter: int) -> Floats:
    """``n_iter`` multiplicative updates of a batch of fits, in float32 as the engine makes
    them: D (B or 1, F, K) dictionaries, h (B, K) activations, rows (B or 1, 1, F) frames
    summing to 1, kl_denominator (B or 1, K) column sums + l1; returns the new h (B, K)."""
    l1, denominator = F32(l1), kl_denominator
    for _ in range(n_iter):
        model = np.matmul(D, h[:, :, None])[:, :, 0] + EPSILON  # (B, F)
        if beta == 1.0:
            numerator = np.matmul(rows / model[:, None, :], D)[:, 0]
        elif beta == 2.0:
            numerator = np.matmul(rows, D)[:, 0]
            denominator = np.matmul(model[:, None, :], D)[:, 0] + l1
        else:  # Itakura-Saito
            inverse = F32(1.0) / model[:, None, :]
            numerator = np.matmul(rows * inverse * inverse, D)[:, 0]
            denominator = np.matmul(inverse, D)[:, 0] + l1
        h = h * (numerator / np.maximum(denominator, _TINY))
    return h


class UnfoldedFit:
    """The layered fit of unfolded (deep NMF) sources, for any number of frames at once.

    For each frame the activations of all sources start flat (1 / K_total), layer ``l``
    makes one multiplicative update (β-divergence, l1, epsilon as the engine's fits) with
    ``[W_1[l] ... W_S[l]]``, and source ``s``'s estimate is ``W_s[L] h_s``. A source with a
    noise floor (``floor`` > 0) has one more column in every layer, last among its own: the
    frame's floor scaled to sum to its weight over the bins the layers cover
    (:func:`livesep.spectral.floor_columns`, :attr:`Preset.fitted_bins`), zero above them in the
    layers. Only the floor carries over from frame to frame, so the online engine and
    offline separation compute the same.

    Parameters
    ----------
    preset : Preset
        Unfolded sources, W (L + 1, F, K_s) each.
    beta, l1 : float, keyword-only
        As in :class:`~livesep.engine.EngineSettings`.
    bands : sequence of int, optional, keyword-only
        Band edges to fit on (:func:`livesep.engine.fit_band_edges`); the estimates stay at
        full resolution. None fits every bin.
    """

    #: Frames fitted at once when the dictionaries differ per frame (a noise floor).
    CHUNK = 128

    def __init__(self, preset: Preset, *, beta: float, l1: float,
                 bands: Sequence[int] | None = None) -> None:
        self.layers = preset.sources[0].layers
        if self.layers == 0:
            raise ParameterError(f"preset {preset.name!r} has no unfolded sources (layers 0)")
        self.beta, self.l1 = beta, l1
        self.floors = [F32(s.floor) for s in preset.sources]
        # Every source's dictionaries with a zero column where its floor goes.
        W = [np.ascontiguousarray(np.pad(s.W, ((0, 0), (0, 0), (0, 1))) if s.floor else s.W,
                                  dtype=F32) for s in preset.sources]
        self.dictionaries = np.concatenate(W, axis=2)  # (L + 1, F, K_total)
        self.edges = np.cumsum([0] + [w.shape[2] for w in W])
        self.floor_columns = [int(b) - 1 for b, w in zip(self.edges[1:], self.floors) if w]
        self.fit_bins = preset.fitted_bins
        self.kl_denominators = self.dictionaries.sum(axis=1, dtype=F32)
        self.kl_denominators[:, self.floor_columns] = [w for w in self.floors if w]
        self.kl_denominators += F32(l1)
        self.bands = bands
        self.fit_dictionaries = (self.dictionaries if bands is None else np.ascontiguousarray(
            spectral.pool_bands(self.dictionaries.swapaxes(1, 2), bands).swapaxes(1, 2)))

    def estimates(self, V: npt.ArrayLike, floor: npt.ArrayLike | None = None) -> Floats:
        """Each source's estimate of frames V (T, F) of magnitudes, shape (T, S, F), float32;
        zero for silent frames (sum not above 1e-20, or not finite), as the engine's.
        ``floor`` (T, F): the noise floor under each frame (:class:`livesep.spectral.
        NoiseFloor`), needed when a source has one."""
        frames = np.asarray(V, dtype=F32)
        if self.floor_columns and (floor is None or np.shape(floor) != frames.shape):
            raise ParameterError(f"a preset with a noise floor needs the floor under each "
                                 f"frame, shape {frames.shape}, got "
                                 f"{None if floor is None else np.shape(floor)}")
        mass = frames.sum(axis=1, dtype=F32)
        heard = np.flatnonzero((mass > 1e-20) & np.isfinite(mass))
        estimates = np.zeros((frames.shape[0], self.edges.size - 1, frames.shape[1]), F32)
        chunk = self.CHUNK if self.floor_columns else max(1, heard.size)
        for first in range(0, heard.size, chunk):
            chosen = heard[first:first + chunk]
            fit = self.fit_dictionaries[:, None]  # (L + 1, 1, F or bands, K_total)
            last = self.dictionaries[self.layers][None]  # (1, F, K_total)
            if self.floor_columns:  # the frames' own dictionaries, with their floors
                fit = np.repeat(fit, chosen.size, axis=1)
                last = np.repeat(last, chosen.size, axis=0)
                for column in self.floor_columns:
                    scaled = spectral.floor_columns(
                        np.asarray(floor)[chosen], float(self._weight(column)),
                        fit_bins=self.fit_bins).astype(F32)
                    last[:, :, column] = scaled
                    scaled[:, self.fit_bins:] = 0.0
                    fit[:, :, :, column] = scaled if self.bands is None else \
                        spectral.pool_bands(scaled, self.bands)
            fitted = frames[chosen] if self.bands is None else \
                spectral.pool_bands(frames[chosen], self.bands)
            rows = (fitted / mass[chosen, None])[:, None, :]  # (B, 1, F or bands)
            h = np.full((chosen.size, fit.shape[-1]), F32(1.0) / F32(fit.shape[-1]), F32)
            for layer in range(self.layers):
                h = multiplicative_updates(fit[layer], h, rows,
                                           self.kl_denominators[layer][None], beta=self.beta,
                                           l1=self.l1, n_iter=1)
            for s, (a, b) in enumerate(zip(self.edges[:-1], self.edges[1:])):
                estimates[chosen, s] = np.matmul(last[:, :, a:b], h[:, a:b, None])[:, :, 0] \
                    * mass[chosen, None]
        return estimates

    def _weight(self, column: int) -> F32:
        """The floor weight of the source whose floor is ``column``."""
        return self.floors[int(np.searchsorted(self.edges[1:], column, side="right"))]
