"""A log-frequency spectrogram of the linear STFT: the representation NMF2D factorises.

Schmidt & Mørup (2006) group the STFT bins into logarithmically spaced bins, 24 per octave
(twice the resolution of the equal-tempered scale), so that a change of pitch becomes a
shift along the frequency axis. Here that grouping is a sparse non-negative matrix ``M``
shaped (B log bins, F = n_fft // 2 + 1 linear bins), applied to magnitudes:
``L = M @ |X|``.

Log bin ``b`` is centred at ``fmin · 2^(b / bins_per_octave)``; there are
``floor(bins_per_octave · log2(fmax / fmin))`` of them (the paper's 175 for 50 Hz to 8 kHz at
24 per octave). The weight of linear bin ``k`` in log bin ``b`` is the larger of

- a triangle in log-frequency reaching the neighbouring centres: where log bins are wider
  than linear bins (high frequencies) every linear bin is split between the two log bins
  around it (its weights sum to one), so a log bin is the *sum* of its band — the paper's
  grouping, which keeps the energy of the many high-frequency partials; and
- a triangle in linear frequency one linear bin wide: where log bins are narrower than linear
  bins (low frequencies) a log bin is the linear interpolation of the two nearest linear
  bins.

(Averaging instead of summing would give the few low partials almost all the weight: on the
trumpet + piano piece of ``scripts/nmf2d_experiment.py`` the least-squares NMF2D then models
the piano with both factors.)

Going back uses ``M``'s transpose with its rows normalised to sum to one, ``P``: a
non-negative approximate pseudo-inverse that keeps masks in [0, 1] and keeps masks of several
sources summing to one (:meth:`LogFrequencyMap.masks_to_linear`). Magnitudes are first divided
by each log bin's total weight ``s_b`` (the width of its band in linear bins), so that
``to_linear(to_log(V)) == V`` for a V constant over frequency and ≈ V for a smooth one
(:meth:`LogFrequencyMap.to_linear`). Linear bins no log bin covers (below ``fmin``, above
``fmax``) take the nearest log bin's value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse

from livesep.checks import check_float, check_int
from livesep.errors import ParameterError

__all__ = ["LogFrequencyMap", "log_frequency_map"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class LogFrequencyMap:
    """The mapping between an STFT's linear bins and log-frequency bins.

    Attributes
    ----------
    forward : scipy.sparse.csr_matrix, shape (B, F)
        Non-negative: ``L = forward @ V``.
    backward : scipy.sparse.csr_matrix, shape (F, B)
        Non-negative, every row sums to one (masks back to linear bins).
    widths : np.ndarray, shape (B,)
        Row sums of ``forward``: how many linear bins each log bin holds (≥ 1 once bins are
        wider than linear bins).
    frequencies : np.ndarray, shape (B,)
        Centre frequency of every log bin in Hz.
    sr, n_fft, bins_per_octave : int
        The STFT and the resolution it was built for.
    """

    forward: scipy.sparse.csr_matrix
    backward: scipy.sparse.csr_matrix
    widths: Array
    frequencies: Array
    sr: int
    n_fft: int
    bins_per_octave: int

    @property
    def n_bins(self) -> int:
        """B, the number of log-frequency bins."""
        return int(self.frequencies.size)

    @property
    def n_linear(self) -> int:
        """F = n_fft // 2 + 1, the number of linear bins."""
        return self.n_fft // 2 + 1

    def to_log(self, V: npt.ArrayLike) -> Array:
        """Log-frequency spectrogram ``forward @ V``.

        Parameters
        ----------
        V : array-like, shape (F, T) or (F,)
            Linear-frequency magnitudes (non-negative).

        Returns
        -------
        np.ndarray, shape (B, T) or (B,)
        """
        return np.asarray(self.forward @ self._checked(V, self.n_linear, "V"))

    def to_linear(self, L: npt.ArrayLike) -> Array:
        """Magnitudes back to linear bins: ``backward @ (L / widths)``.

        Parameters
        ----------
        L : array-like, shape (B, T) or (B,)
            Log-frequency magnitudes (as :meth:`to_log` makes them).

        Returns
        -------
        np.ndarray, shape (F, T) or (F,)
            Exact for a spectrum constant over frequency, close for a smooth one.
        """
        array = self._checked(L, self.n_bins, "L")
        widths = self.widths if array.ndim == 1 else self.widths[:, None]
        return np.asarray(self.backward @ (array / widths))

    def masks_to_linear(self, masks: npt.ArrayLike) -> Array:
        """Masks back to linear bins: ``backward @ masks``.

        Parameters
        ----------
        masks : array-like, shape (B, T), (B,) or (S, B, T)
            Values per log bin (e.g. in [0, 1]); a leading source axis is mapped per source.

        Returns
        -------
        np.ndarray, shape (F, T), (F,) or (S, F, T)
            Weighted averages of the log bins covering each linear bin: in the range of the
            input, and summing to one over sources wherever the input does.
        """
        array = np.asarray(masks, dtype=np.float64)
        if array.ndim == 3:
            return np.stack([self.masks_to_linear(mask) for mask in array])
        return np.asarray(self.backward @ self._checked(array, self.n_bins, "masks"))

    @staticmethod
    def _checked(X: npt.ArrayLike, rows: int, name: str) -> Array:
        array = np.asarray(X, dtype=np.float64)
        if array.ndim not in (1, 2) or array.shape[0] != rows:
            raise ParameterError(f"{name} must have {rows} rows (one per bin), shaped "
                                 f"({rows},) or ({rows}, T), got shape {array.shape}")
        return array


def log_frequency_map(*, sr: int, n_fft: int, bins_per_octave: int = 24, fmin: float = 50.0,
                      fmax: float = 8000.0) -> LogFrequencyMap:
    """Build the log-frequency mapping for an STFT.

    Parameters
    ----------
    sr : int, keyword-only
        Sample rate in Hz.
    n_fft : int, keyword-only
        STFT frame length (F = n_fft // 2 + 1 linear bins).
    bins_per_octave : int, keyword-only
        Log bins per octave (24 in the paper).
    fmin : float, keyword-only
        Centre of the lowest log bin in Hz (50 in the paper).
    fmax : float, keyword-only
        Upper limit in Hz (8000 in the paper); at most ``sr / 2``.

    Returns
    -------
    LogFrequencyMap
        With ``floor(bins_per_octave · log2(fmax / fmin))`` log bins.

    Raises
    ------
    ParameterError
        For a bad setting or a range holding no log bin.
    """
    sr = check_int("sr", sr, low=1000, high=1_000_000)
    n_fft = check_int("n_fft", n_fft, low=16, high=65536)
    bins_per_octave = check_int("bins_per_octave", bins_per_octave, low=1, high=1200)
    fmin = check_float("fmin", fmin, low=0.0, low_open=True)
    fmax = check_float("fmax", fmax, low=fmin, low_open=True, high=sr / 2)
    n_bins = int(np.floor(bins_per_octave * np.log2(fmax / fmin) + 1e-9))
    if n_bins < 1:
        raise ParameterError(f"fmin={fmin:g} Hz to fmax={fmax:g} Hz holds no log bin at "
                             f"{bins_per_octave} bins per octave")
    centres = fmin * 2.0 ** (np.arange(n_bins) / bins_per_octave)
    linear = np.arange(n_fft // 2 + 1) * sr / n_fft
    spacing = sr / n_fft
    with np.errstate(divide="ignore"):
        octaves = np.log2(linear)  # -inf at DC: zero log-triangle weight there
    # Distances in log bins and in linear bins between every (log bin, linear bin) pair.
    log_distance = np.abs(octaves[None, :] * bins_per_octave
                          - np.log2(centres)[:, None] * bins_per_octave)
    linear_distance = np.abs(linear[None, :] - centres[:, None]) / spacing
    weights = np.maximum(np.maximum(1.0 - log_distance, 0.0),
                         np.maximum(1.0 - linear_distance, 0.0))
    coverage = weights.sum(axis=0)
    backward = np.zeros_like(weights.T)
    covered = coverage > 0
    backward[covered] = (weights[:, covered] / coverage[covered]).T
    nearest = np.argmin(np.abs(np.log2(np.maximum(linear[~covered], spacing / 2))[:, None]
                               - np.log2(centres)[None, :]), axis=1)
    backward[np.flatnonzero(~covered), nearest] = 1.0
    return LogFrequencyMap(forward=scipy.sparse.csr_matrix(weights),
                           backward=scipy.sparse.csr_matrix(backward),
                           widths=weights.sum(axis=1), frequencies=centres,
                           sr=sr, n_fft=n_fft, bins_per_octave=bins_per_octave)
