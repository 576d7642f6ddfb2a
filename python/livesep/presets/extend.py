"""Full band from a preset trained at a lower rate: the same fit, the band above estimated.

A preset trained at 16 kHz separates what lies below 8 kHz. At 48 kHz, with frames three
times as long in samples (the same 32 ms), its bins are the lowest of the longer frames,
at the same frequencies. :func:`extend_band` keeps its dictionaries there and its
transitions, and fits the activations on those bins only (:attr:`Preset.fit_bins`), so the
extended preset separates that band as the original does, without resampling. The fit
stops where the original's training material stopped being flat: a corpus resampled to
16 kHz is flat to 45 % of that rate (:data:`livesep.resampling.PASSBAND`), and the bins
between 7.2 and 8 kHz, attenuated there but whole at 48 kHz, would pull the fit. Above it,
each source's columns get the source's mean spectrum there, relative to its mean spectrum
below, measured on a recording of that source at the new rate: the masks share the band
above by how much of it each source brings for what it plays below.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.checks import show
from livesep.errors import ParameterError
from livesep.presets.source import SourceModel
from livesep.presets.types import Preset
from livesep.resampling import PASSBAND

__all__ = ["extend_band", "upper_profile"]

#: A source that brings nothing above the band still gets this much there, relative to
#: its band below, so that the masks stay defined.
EMPTY_PROFILE = 1e-12


def upper_profile(y: npt.ArrayLike, *, n_fft: int, hop_length: int, fit_bins: int
                  ) -> npt.NDArray[np.float32]:
    """A recording's mean magnitude in each bin from ``fit_bins`` up, over its mean sum of
    magnitudes below.

    Parameters
    ----------
    y : array-like, shape (n,)
        One source on its own.
    n_fft, hop_length : int, keyword-only
        The frames (:func:`livesep.spectral.magnitude`).
    fit_bins : int, keyword-only
        The bins below.

    Returns
    -------
    np.ndarray, shape (n_fft // 2 + 1 - fit_bins,), float32
        At least :data:`EMPTY_PROFILE` in every bin.
    """
    V = spectral.magnitude(y, n_fft=n_fft, hop_length=hop_length).astype(np.float64)
    below = V[:fit_bins].sum()
    if not below > 0.0:
        raise ParameterError("the recording is silent below the band it should extend")
    return np.maximum(V[fit_bins:].sum(axis=1) / below, EMPTY_PROFILE).astype(np.float32)


def extend_band(preset: Preset, recordings: Mapping[str, npt.ArrayLike], *, sr: int,
                fit_below: float | None = None, name: str | None = None,
                description: str | None = None) -> Preset:
    """``preset`` at the higher rate ``sr``, fitted on its own band and estimating the rest.

    Parameters
    ----------
    preset : Preset
        Plain or N-HMM sources (no layers, frames, adaptation or encoder; a noise floor is
        kept, joining the fit on its bins; a companion is kept, covering the bins of its
        rate) at a rate
        below ``sr`` whose frames scale to ``sr`` in whole samples: ``n_fft * sr / preset.sr``
        and ``hop_length * sr / preset.sr`` integers, the first a multiple of 4.
    recordings : mapping of str to array-like, shape (n,)
        Each source's name to a recording of it alone at ``sr`` (its training material).
    sr : int, keyword-only
        The new rate.
    fit_below : float or None, keyword-only
        The fit's top frequency in Hz, at most ``preset``'s Nyquist frequency; ``None`` for
        :data:`~livesep.resampling.PASSBAND` times ``preset.sr``, where a file resampled to
        that rate stops being flat.
    name, description : str or None, keyword-only
        The new preset's texts; ``None`` keeps ``preset``'s.

    Returns
    -------
    Preset
        At ``sr`` with frames as long in time, fitted on the bins up to ``fit_below``, the
        same transitions; every column is the original in ``preset``'s bins and the
        source's :func:`upper_profile` above them, scaled to sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from livesep.presets import extend_band
    >>> from livesep.presets import load_preset
    >>> preset = load_preset("bass-drums-nhmm")
    >>> rng = np.random.default_rng(0)
    >>> noise = {s: rng.standard_normal(48000).astype(np.float32) for s in ("bass", "drums")}
    >>> wide = extend_band(preset, noise, sr=48000)
    >>> wide.sr, wide.n_fft, wide.fit_bins
    (48000, 1536, 231)
    """
    if not isinstance(preset, Preset):
        raise ParameterError(f"extend_band needs a Preset, got {show(preset)}")
    if not isinstance(sr, int) or sr <= preset.sr:
        raise ParameterError(f"sr must be an int above the preset's {preset.sr} Hz, "
                             f"got {show(sr)}")
    if preset.encoder is not None or preset.fit_bins is not None or any(
            s.layers or s.frames > 1 or s.adaptive for s in preset.sources):
        raise ParameterError(f"extend_band needs plain or N-HMM sources, not extended yet; "
                             f"preset {preset.name!r} has layers, frames, adaptation, an "
                             f"encoder or fit_bins")
    n_fft, hop = preset.n_fft * sr / preset.sr, preset.hop_length * sr / preset.sr
    if not (n_fft.is_integer() and hop.is_integer() and int(n_fft) % 4 == 0):
        raise ParameterError(f"{preset.n_fft} / {preset.hop_length} frames at {preset.sr} Hz "
                             f"are {n_fft:g} / {hop:g} samples at {sr} Hz: the rate must make "
                             f"them whole, n_fft a multiple of 4")
    missing = [s.name for s in preset.sources if s.name not in recordings]
    if missing:
        raise ParameterError(f"no recording for source(s) {', '.join(map(repr, missing))}")
    top = PASSBAND * preset.sr if fit_below is None else fit_below
    if not 0.0 < top <= preset.sr / 2:
        raise ParameterError(f"fit_below must be in (0, {preset.sr / 2:g}] Hz, got {show(top)}")
    fit_bins = int(top * n_fft / sr) + 1
    sources = []
    for source in preset.sources:
        profile = upper_profile(recordings[source.name], n_fft=int(n_fft),
                                hop_length=int(hop), fit_bins=preset.n_bins)
        W = np.concatenate([source.W, np.broadcast_to(profile[None, :, None], (
            source.W.shape[0], profile.size, source.W.shape[2]))], axis=1).astype(np.float64)
        W /= W.sum(axis=1, keepdims=True)
        provenance = {**source.provenance, "extended": {
            "from_sr": preset.sr, "fit_bins": fit_bins,
            "upper_share": float(profile.sum() / (1.0 + profile.sum()))}}
        sources.append(SourceModel(source.name, W=W, A=source.A, pi=source.pi,
                                   floor=source.floor, provenance=provenance))
    return Preset(preset.name if name is None else name,
                  description=preset.description if description is None else description,
                  sr=sr, n_fft=int(n_fft), hop_length=int(hop), model=preset.model,
                  sources=tuple(sources), fit_bins=fit_bins, companion=preset.companion,
                  companion_share=preset.companion_share)
