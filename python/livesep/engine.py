"""From a preset to a running C++ engine: inference settings, model conversion, separators."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from livesep._core import Model, Separator
from livesep.checks import check_float, check_int
from livesep.errors import ParameterError
from livesep.presets import Preset
from livesep.spectral import LATENCIES, fit_bands, low_delay_geometry

__all__ = ["EngineSettings", "build_model", "create_separator", "warm_up", "OUTPUTS",
           "LATENCIES", "frame_transitions", "latency_geometry", "fit_band_edges"]

#: Default iterations and warm-start floors per fit: N-HMM presets (many joint states, each
#: with its own warm start) and presets with one joint state (plain or convolutive NMF).
STATE_ITERATIONS, STATE_FLOOR = 10, 1e-3
SINGLE_STATE_ITERATIONS, SINGLE_STATE_FLOOR = 100, 1.0
#: Default mask smoothing over time (seconds) for one joint state, whose frame-wise fit knows
#: no time and whose masks flicker; none for N-HMM presets, whose states carry time already,
#: nor with low-delay windows (:meth:`EngineSettings.resolved`).
SINGLE_STATE_SMOOTHING = 0.03
#: The longest mask smoothing time constant, in seconds.
MAX_SMOOTHING = 10.0
#: Most activation updates per frame, and most joint states per frame's beam (0: every one).
MAX_ITERATIONS = 1000
MAX_BEAM = 1 << 20
#: How a separator lays out its output channels: one per source, or their remix on one or two.
OUTPUTS = ("stems", "mono", "stereo")
#: Latency modes and the most algorithmic latency each allows, in seconds (None: the
#: preset's own frames, n_fft - 1 samples).


@dataclass(frozen=True)
class EngineSettings:
    """How the engine infers, frame by frame.

    Attributes
    ----------
    n_iter : int or None
        Multiplicative updates per activation fit and frame (warm-started). None: the
        preset's default (:meth:`resolved`), 10 per joint state's fit for N-HMM presets, 100
        for presets with one joint state (plain NMF), whose single fit is cheap and needs
        them at onsets.
    beam : int
        Joint states evaluated per frame, the most probable predicted ones; 0 evaluates
        every joint state (exact filtering). Ignored for presets with one state per source.
    likelihood_counts : float
        The likelihood scale γ: each frame's spectral shape is scored as this many
        multinomial draws. Small values keep the state posteriors soft; FINDINGS.md found a
        few tens best, hundreds made posteriors too sharp and cost artefacts (SAR).
    mask_power : float
        Soft-mask exponent p (1 or 2): M_s = V_s^p / sum_j V_j^p.
    beta : float
        β-divergence of the activation fit: 0 Itakura-Saito, 1 Kullback-Leibler, 2 Euclidean.
    l1 : float
        Sparsity weight on the activations (units of a frame normalised to sum 1).
    reseed_floor : float or None
        Warm starts are raised to this fraction of the mean activation before each fit, so
        that components which faded can come back. None: the preset's default, 1e-3 for
        N-HMM presets (each joint state keeps its own warm start), 1 for one joint state
        (its one warm start comes from whatever the last frame held: a drum hit's
        activations are a poor start for the next frame).
    forgetting : float
        For sources marked adaptive in the preset: how much of its statistics the dictionary
        keeps from one frame to the next (0.99 at 125 frames/s forgets with a time constant
        of 0.8 s).
    adaptation_prior : float
        For adaptive sources: the weight of the trained dictionary in the statistics at the
        start, in frames' worth of activation; it fades with ``forgetting``.
    latency : {"standard", "low", "ultra"}
        The algorithmic latency: ``"standard"`` the preset's frames (n_fft - 1 samples, 32 ms
        for n_fft 512 at 16 kHz); ``"low"`` at most 8 ms and ``"ultra"`` at most 3 ms, by
        asymmetric windows (the preset's n_fft for analysis, a short synthesis window, a hop
        of half of it: more frames per second, so more work; :func:`latency_geometry`).
    bands_above : float or None
        Fit the activations on a coarser frequency axis: every bin below this frequency
        (Hz), bands of ``1 / bands_per_octave`` octave above (bins summed, dictionaries
        too), the masks staying at full resolution (:func:`livesep.spectral.fit_bands`).
        Cheaper where most bins are high (full band at 44.1 or 48 kHz). None: the preset's
        own (:attr:`livesep.presets.Preset.fit_bands_above`), else every bin. Ignored for
        presets with a recurrent encoder, adaptive or convolutive sources.
    bands_per_octave : int
        Bands per octave above ``bands_above``.
    smoothing : float or None
        Time constant (seconds) of the masks' smoothing over time: each source's share of
        the recent power, ``M'_s = smooth(M_s |X|^2) / smooth(|X|^2)`` with one-pole
        smoothing (:class:`livesep.spectral.MaskSmoother`), against the flicker (musical
        noise) of masks fitted frame by frame. 0 for none. None: the preset's default,
        0.03 s for presets with one joint state (NMF, unfolded, recurrent encoder) at the
        preset's own frames, 0 for N-HMM presets, whose states carry time already, and with
        the low-delay windows of ``"low"`` and ``"ultra"``, where the smoothing's lag costs
        more than the flicker it removes.

    Examples
    --------
    >>> from livesep import EngineSettings
    >>> EngineSettings(n_iter=5, beam=64).exact().beam  # 0: every joint state
    0
    """

    n_iter: int | None = None
    beam: int = 128
    likelihood_counts: float = 30.0
    mask_power: float = 2.0
    beta: float = 1.0
    l1: float = 0.0
    reseed_floor: float | None = None
    forgetting: float = 0.99
    adaptation_prior: float = 1.0
    latency: str = "standard"
    bands_above: float | None = None
    bands_per_octave: int = 12
    smoothing: float | None = None

    def __post_init__(self) -> None:
        if self.latency not in LATENCIES:
            raise ParameterError(f"latency must be one of {', '.join(LATENCIES)}, got "
                                 f"{self.latency!r}")
        if self.n_iter is not None:
            check_int("n_iter", self.n_iter, low=0, high=MAX_ITERATIONS)
        if self.reseed_floor is not None:
            check_float("reseed_floor", self.reseed_floor, low=0.0)
        check_int("beam", self.beam, low=0, high=MAX_BEAM)
        check_float("likelihood_counts", self.likelihood_counts, low=0.0, low_open=True)
        if self.mask_power not in (1.0, 2.0):
            raise ParameterError(f"mask_power must be 1 or 2, got {self.mask_power!r}")
        if self.beta not in (0.0, 1.0, 2.0):
            raise ParameterError(f"beta must be 0, 1 or 2, got {self.beta!r}")
        if not 0 < self.forgetting <= 1 or self.adaptation_prior < 0:
            raise ParameterError(f"forgetting must be in (0, 1] and adaptation_prior >= 0, got "
                                 f"{self.forgetting!r} and {self.adaptation_prior!r}")
        check_float("l1", self.l1, low=0.0)
        if self.bands_above is not None:
            check_float("bands_above", self.bands_above, low=0.0, low_open=True)
        check_int("bands_per_octave", self.bands_per_octave, low=1, high=96)
        if self.smoothing is not None:
            check_float("smoothing", self.smoothing, low=0.0, high=MAX_SMOOTHING)

    def exact(self) -> EngineSettings:
        """The same settings evaluating every joint state."""
        return replace(self, beam=0)

    def resolved(self, preset: Preset) -> EngineSettings:
        """These settings with the preset's defaults for what is left as None."""
        single = all(source.n_states == 1 for source in preset.sources)
        n_iter = self.n_iter if self.n_iter is not None else (
            SINGLE_STATE_ITERATIONS if single else STATE_ITERATIONS)
        floor = self.reseed_floor if self.reseed_floor is not None else (
            SINGLE_STATE_FLOOR if single else STATE_FLOOR)
        # Low-delay windows follow the signal closely; the smoothing's lag costs them more
        # than the flicker it removes.
        low_delay = latency_geometry(preset, self.latency)[1] != 0
        smoothing = self.smoothing if self.smoothing is not None else (
            SINGLE_STATE_SMOOTHING if single and not low_delay else 0.0)
        return replace(self, n_iter=n_iter, reseed_floor=floor, smoothing=smoothing)


def latency_geometry(preset: Preset, latency: str = "standard") -> tuple[int, int]:
    """The hop and synthesis length a latency mode gives a preset's frames.

    Parameters
    ----------
    preset : Preset
        Its ``sr``, ``n_fft`` and ``hop_length``.
    latency : {"standard", "low", "ultra"}
        See :class:`EngineSettings`.

    Returns
    -------
    (int, int)
        ``(hop_length, synthesis_length)``: the preset's hop and 0 (symmetric windows,
        latency ``n_fft - 1``) when its frames meet the mode's bound, else the longest even
        synthesis length ``S`` with ``S - 1`` samples within it (and at most ``n_fft / 2``),
        and ``S // 2``: latency ``S - 1``.

    Examples
    --------
    >>> from livesep import load_preset
    >>> from livesep.engine import latency_geometry
    >>> latency_geometry(load_preset("voice"), "low")  # 16 kHz: 127 samples, 7.9 ms
    (64, 128)
    """
    return low_delay_geometry(sr=preset.sr, n_fft=preset.n_fft, hop_length=preset.hop_length,
                              latency=latency)


def frame_transitions(A: npt.ArrayLike, ratio: float) -> npt.NDArray[np.float32]:
    """Transitions trained at one hop for a hop ``ratio`` times as long (``ratio <= 1``):
    ``(1 - ratio) I + ratio A``, the same rates of leaving each state per second (to first
    order), so that a state's expected stay keeps its length in seconds. Still stochastic.

    Examples
    --------
    >>> from livesep.engine import frame_transitions
    >>> frame_transitions([[0.9, 0.1], [0.2, 0.8]], 0.5).tolist()
    [[0.949999988079071, 0.05000000074505806], [0.10000000149011612, 0.8999999761581421]]
    """
    transitions = np.asarray(A, dtype=np.float64)
    if not 0.0 < ratio <= 1.0:
        raise ParameterError(f"ratio must be in (0, 1], got {ratio!r}")
    mixed = (1.0 - ratio) * np.eye(transitions.shape[0]) + ratio * transitions
    return mixed.astype(np.float32)


def build_model(preset: Preset, settings: EngineSettings | None = None) -> Model:
    """Convert a preset's sources into the engine's (immutable, shareable) model.

    Convolutive sources (``frames > 1``) pass their lagged dictionaries (frames, F, K); the
    engine fits the current frame's activations with the past frames' held fixed. Unfolded
    sources (``layers > 0``) pass their layers' dictionaries (layers + 1, F, K); the engine
    runs one update per layer from flat activations every frame, whatever ``n_iter``,
    ``beam`` and ``reseed_floor`` say. A preset with a recurrent encoder (model ``"nae"``)
    passes it: the encoder gives the activations every frame, and the same settings do not
    apply either. A preset's companion is built with the same settings, unsmoothed: the
    engine mixes its masks in before it smooths them.

    Parameters
    ----------
    preset : Preset
        The trained sources.
    settings : EngineSettings, optional
        Inference settings; defaults to ``EngineSettings()``.

    Returns
    -------
    livesep._core.Model
    """
    given = settings or EngineSettings()
    settings = given.resolved(preset)
    # Shorter hops (a latency mode) keep the trained time constants: a state's expected stay
    # and an adaptive source's memory stay the same in seconds, not in frames.
    ratio = latency_geometry(preset, settings.latency)[0] / preset.hop_length
    sources = [(source.W, frame_transitions(source.A, ratio), source.pi)
               for source in preset.sources]
    return Model(sources, beta=settings.beta, l1=settings.l1, n_iter=settings.n_iter,
                 beam=settings.beam, likelihood_counts=settings.likelihood_counts,
                 reseed_floor=settings.reseed_floor,
                 adaptive=[source.adaptive for source in preset.sources],
                 frames=[source.frames for source in preset.sources],
                 layers=[source.layers for source in preset.sources],
                 forgetting=settings.forgetting ** ratio,
                 adaptation_prior=settings.adaptation_prior,
                 encoder=(preset.encoder.engine_weights() if preset.encoder is not None
                          else None),
                 bands=fit_band_edges(preset, settings),
                 floors=[source.floor for source in preset.sources],
                 mask_smoothing=settings.smoothing,
                 companion=None if preset.companion is None else build_model(
                     preset.companion, replace(given, smoothing=0.0)),
                 companion_share=preset.companion_share)


def fit_band_edges(preset: Preset, settings: EngineSettings) -> list[int] | None:
    """The bands ``preset`` is fitted on under ``settings`` (``bands_above``, else the
    preset's ``fit_bands_above``), or None for every bin (neither set, every bin its own
    band, or a preset that cannot be fitted on bands: a recurrent encoder, adaptive or
    convolutive sources). A preset with
    :attr:`Preset.fit_bins` is fitted on those bins only (its bands end there). An unfolded
    preset whose layers cover fewer bins than its estimates (:attr:`Preset.fitted_bins`) is
    fitted on those bins and one band above them, where every layer is zero: the same fit,
    in fewer rows."""
    if preset.encoder is not None or any(source.adaptive or source.frames > 1
                                         for source in preset.sources):
        return None
    top = preset.fit_bins
    above = settings.bands_above if settings.bands_above is not None else preset.fit_bands_above
    if above is not None:
        edges = fit_bands(sr=preset.sr, n_fft=preset.n_fft, above=above,
                          per_octave=settings.bands_per_octave).tolist()
        if top is not None:
            return [edge for edge in edges if edge < top] + [top]
        return edges if len(edges) - 1 < preset.n_bins else None
    if top is not None:
        return list(range(top + 1))
    fit_bins = preset.fitted_bins
    return [*range(fit_bins + 1), preset.n_bins] if fit_bins < preset.n_bins - 1 else None


def create_separator(preset: Preset, *, settings: EngineSettings | None = None,
                     output: str = "stems") -> Separator:
    """A prepared separator running ``preset``.

    Parameters
    ----------
    preset : Preset
        The trained sources; its sr, n_fft and hop_length configure the stream.
    settings : EngineSettings, optional
        Inference settings.
    output : {"stems", "mono", "stereo"}
        One channel per source, or the remix (sum of the gained sources) on one or two
        channels.

    Returns
    -------
    livesep.Separator

    Examples
    --------
    >>> import numpy as np
    >>> from livesep import EngineSettings, create_separator, load_preset
    >>> preset = load_preset("speech-noise-nhmm")
    >>> separator = create_separator(preset, settings=EngineSettings(beam=64), output="mono")
    >>> separator.process(np.zeros(256, dtype=np.float32)).shape
    (1, 256)
    """
    if output not in OUTPUTS:
        raise ParameterError(f"output must be one of {OUTPUTS}, got {output!r}")
    settings = settings or EngineSettings()
    hop, synthesis = latency_geometry(preset, settings.latency)
    separator = Separator()
    separator.prepare(sr=preset.sr, n_fft=preset.n_fft, hop_length=hop,
                      model=build_model(preset, settings), output=output,
                      mask_power=settings.mask_power, synthesis_length=synthesis)
    return separator


def warm_up(separator: Separator, *, seconds: float = 0.1) -> None:
    """Run ``separator`` over a little quiet noise, then reset it.

    The first frames a process runs touch code pages and fitting buffers it has never
    touched; an audio callback should not be the one to pay for that. Afterwards the
    separator is as new: reset, with no timings or display snapshots queued.

    Parameters
    ----------
    separator : livesep.Separator
        A prepared separator.
    seconds : float, keyword-only
        How much noise, at the separator's rate (at least one frame is run).
    """
    n = max(separator.n_fft, int(seconds * separator.sr))
    noise = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 1e-2
    separator.process(noise)
    separator.reset()
    separator.pop_timings()
    separator.pop_snapshots()
