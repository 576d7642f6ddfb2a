"""The engine's streaming computation in vectorised numpy: the reference for speed ratios.

:class:`ReferenceSeparator` computes what the C++ ``Separator`` computes (cpp/livesep/
stft.h, nfhmm.h, model.h), frame by frame and in float32, written the way one would write it
without the C++ core:

* the same streaming STFT: sqrt-Hann analysis, overlap-add synthesis, a fixed delay of
  ``n_fft - 1`` samples whatever the block size, non-finite input read as zero;
* the same online N-FHMM filter: prediction through every source's transition matrix, the
  beam of the most probable predicted joint states (all of them when ``beam`` is 0 or
  covers them), warm-started multiplicative-update fits of each evaluated joint state
  (Kullback-Leibler, Euclidean or Itakura-Saito, l1, reseed floor), the scaled multinomial
  likelihood, the posterior and the posterior-weighted source estimates;
* for unfolded (deep NMF) presets, the same layered fit (:class:`UnfoldedFit`): flat
  activations every frame, one update per layer with that layer's dictionaries, the
  estimates from the last ones;
* the same soft masks ``V_s^p / sum_j V_j^p`` (an even split where all are zero) applied
  to the complex mixture frame, unit gains.

``benchmarks/`` and ``livesep bench`` time it against the C++ engine; the tests check that
both give the same output within float32 tolerance. The evaluated joint states of one
frame are fitted together as one batch of ``(B, F, K)`` dictionaries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.engine import (
    EngineSettings,
    fit_band_edges,
    frame_transitions,
    latency_geometry,
)
from livesep.errors import ParameterError
from livesep.presets import Preset
from livesep.separation.reference_fit import (
    EPSILON,
    F32,
    Floats,
    UnfoldedFit,
    multiplicative_updates,
)

__all__ = ["NumpyStream", "ReferenceFilter", "ReferenceSeparator"]

#: Largest cache of joint-state dictionaries, in floats (64 MiB).
_MAX_CACHED_FLOATS = 16 * 2**20


class ReferenceFilter:
    """The online factorial filter of cpp/livesep/nfhmm.h, one frame at a time.

    Parameters
    ----------
    preset : Preset
        The sources: per source ``W`` (Q, F, K), ``A`` (Q, Q), ``pi`` (Q,); or unfolded
        sources, W (L + 1, F, K) (:class:`UnfoldedFit`, their one joint state).
    settings : EngineSettings, optional
        n_iter, beam, likelihood_counts, beta, l1 and reseed_floor are used (beta and l1
        only, for unfolded sources).
    """

    def __init__(self, preset: Preset, *, settings: EngineSettings | None = None) -> None:
        convolutive = [s.name for s in preset.sources if s.frames > 1]
        if convolutive:
            raise ParameterError(f"the numpy reference engine has no convolutive sources "
                                 f"({', '.join(map(repr, convolutive))} have frames > 1)")
        if preset.encoder is not None or preset.companion is not None:
            raise ParameterError(f"the numpy reference engine has no recurrent encoder or "
                                 f"companion (preset {preset.name!r}); separate_offline runs "
                                 f"them")
        settings = (settings or EngineSettings()).resolved(preset)
        self.settings = settings
        self.bands = fit_band_edges(preset, settings)
        self.unfolded = (UnfoldedFit(preset, beta=settings.beta, l1=settings.l1,
                                     bands=self.bands)
                         if preset.sources[0].layers else None)
        hop = latency_geometry(preset, settings.latency)[0]
        self.noise_floor = spectral.NoiseFloor(sr=preset.sr, hop_length=hop) \
            if any(s.floor for s in preset.sources) else None
        self.floor_weights = [F32(s.floor) for s in preset.sources]
        # A source with a noise floor has it as its last column, rewritten every frame.
        self.W = [np.ascontiguousarray(np.pad(s.W, ((0, 0), (0, 0), (0, 1))) if s.floor
                                       else s.W, dtype=F32) for s in preset.sources]
        # The fit's dictionaries: summed over the bands when fitting on bands.
        self.W_fit = (self.W if self.bands is None else [np.ascontiguousarray(
            spectral.pool_bands(W.swapaxes(1, 2), self.bands).swapaxes(1, 2)) for W in self.W])
        ratio = latency_geometry(preset, self.settings.latency)[0] / preset.hop_length
        self.A = [frame_transitions(s.A, ratio) for s in preset.sources]
        self.pi = [np.ascontiguousarray(s.pi, dtype=F32) for s in preset.sources]
        self.shape = tuple(s.n_states for s in preset.sources)
        self.n_joint = int(np.prod(self.shape))
        self.n_bins = preset.n_bins
        self.components = [W.shape[2] for W in self.W]
        self.offsets = np.concatenate([[0], np.cumsum(self.components)])
        self.total_components = int(self.offsets[-1])
        # Joint state j = (q_1, ..., q_S) row-major, as the engine numbers them.
        self.states = np.stack(np.unravel_index(np.arange(self.n_joint), self.shape), axis=1)
        # Bands that end below the top bin (Preset.fit_bins) leave those rows out of the fit,
        # where a noise floor's column sums to its weight.
        self.floor_bins = self.bands[-1] if self.bands is not None \
            and self.bands[-1] < self.n_bins else None
        summed = self.W if self.floor_bins is None else self.W_fit
        self.column_sums = np.concatenate(
            [W.sum(axis=1, dtype=F32)[self.states[:, s]] for s, W in enumerate(summed)],
            axis=1)  # (J, K_total)
        for s, weight in enumerate(self.floor_weights):
            if weight:
                self.column_sums[:, self.offsets[s + 1] - 1] = weight
        self.floor = F32(settings.reseed_floor) / F32(self.total_components)
        # Every joint state's dictionary [W_1[q_1] ... W_S[q_S]] side by side, when that
        # fits in memory: one contiguous gather per frame instead of S strided ones.
        self.joint_dictionaries: Floats | None = None
        if self.n_joint * self.W_fit[0].shape[1] * self.total_components <= _MAX_CACHED_FLOATS:
            self.joint_dictionaries = self._dictionaries(np.arange(self.n_joint))
        self.n_evaluated = 0
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame starts from the initial distributions."""
        self.alpha = np.zeros(self.n_joint, dtype=F32)
        if self.noise_floor is not None:
            self.noise_floor.reset()
        self.table = np.full((self.n_joint, self.total_components),
                             F32(1.0) / F32(self.total_components), dtype=F32)
        self.first_frame = True

    def _write_floor_columns(self, floor: Floats | None) -> None:
        """The floor under this frame as the floor column of every source that has one."""
        for s, weight in enumerate(self.floor_weights):
            if not weight or floor is None:
                continue
            column = spectral.floor_columns(floor, float(weight),
                                            fit_bins=self.floor_bins).astype(F32)
            self.W[s][:, :, -1] = column
            fitted = column if self.bands is None else spectral.pool_bands(column, self.bands)
            if self.bands is not None:
                self.W_fit[s][:, :, -1] = fitted
            if self.joint_dictionaries is not None:
                self.joint_dictionaries[:, :, self.offsets[s + 1] - 1] = fitted

    def _predict(self) -> Floats:
        if self.first_frame:
            self.first_frame = False
            prior = np.ones(self.n_joint, dtype=F32)
            for s, pi in enumerate(self.pi):
                prior *= pi[self.states[:, s]]
            return prior
        x = self.alpha.reshape(self.shape)
        for s, A in enumerate(self.A):
            x = np.moveaxis(np.tensordot(x, A, axes=([s], [0])), -1, s)
        return np.ascontiguousarray(x, dtype=F32).reshape(-1)

    def _select(self, predicted: Floats) -> npt.NDArray[np.intp]:
        selected = np.flatnonzero(predicted > 0)
        beam = self.settings.beam
        if 0 < beam < selected.size:
            # Most probable first, ties to the lower joint index (as the engine does).
            best = np.lexsort((selected, -predicted[selected]))[:beam]
            selected = np.sort(selected[best])
        return selected

    def _dictionaries(self, joint: npt.NDArray[np.intp]) -> Floats:
        """The dictionaries of joint states ``joint``, shape (len(joint), F, K_total)."""
        return np.concatenate([W[self.states[joint, s]] for s, W in enumerate(self.W_fit)],
                              axis=2)

    def _fit(self, selected: npt.NDArray[np.intp], frame: Floats) -> tuple[Floats, Floats]:
        """Warm-started fits of the selected joint states: activations (B, K), model (B, F)."""
        D = (self._dictionaries(selected) if self.joint_dictionaries is None
             else np.take(self.joint_dictionaries, selected, axis=0))  # (B, F, K_total)
        h = np.maximum(self.table[selected], self.floor)  # (B, K_total)
        h = multiplicative_updates(D, h, frame[None, None, :],
                     self.column_sums[selected] + F32(self.settings.l1),
                     beta=self.settings.beta, l1=self.settings.l1, n_iter=self.settings.n_iter)
        model = np.matmul(D, h[:, :, None])[:, :, 0] + EPSILON
        return h, model

    def process_frame(self, v: npt.ArrayLike) -> Floats:
        """Filter one frame of mixture magnitudes.

        Parameters
        ----------
        v : array-like, shape (F,)
            Magnitudes of the mixture frame.

        Returns
        -------
        np.ndarray, shape (S, F), float32
            Each source's estimate in the units of ``v`` (zero for a silent frame).
        """
        v = np.asarray(v, dtype=F32)
        if self.noise_floor is not None and self.noise_floor.update(v) \
                and self.unfolded is None:
            self._write_floor_columns(self.noise_floor.magnitudes())
        predicted = self._predict()
        fitted = v if self.bands is None else spectral.pool_bands(v, self.bands)
        mass = fitted.sum(dtype=F32)
        estimates = np.zeros((len(self.W), self.n_bins), dtype=F32)
        if not (mass > 1e-20 and np.isfinite(mass)):
            self.alpha = predicted
            self.n_evaluated = 0
            return estimates
        if self.unfolded is not None:  # the one joint state takes the whole posterior
            self.alpha = np.ones(1, dtype=F32)
            self.n_evaluated = 1
            floor = None if self.noise_floor is None else self.noise_floor.magnitudes()
            return self.unfolded.estimates(v[None], None if floor is None else floor[None])[0]
        frame = fitted / mass
        selected = self._select(predicted)
        self.n_evaluated = selected.size
        h, model = self._fit(selected, frame)
        self.table[selected] = h
        with np.errstate(divide="ignore", invalid="ignore"):
            log_likelihoods = F32(self.settings.likelihood_counts) * (
                np.log(model) @ frame - np.log(model.sum(axis=1, dtype=F32)))
            scores = np.log(predicted[selected]) + log_likelihoods
        scores = np.where(np.isfinite(scores), scores, -np.inf)
        best = scores.max()
        if not np.isfinite(best):
            self.alpha = predicted
        else:
            weights = np.exp((scores - best).astype(np.float64))
            self.alpha = np.zeros(self.n_joint, dtype=F32)
            self.alpha[selected] = (weights / weights.sum()).astype(F32)
        posterior = self.alpha[selected][:, None]
        for s, W in enumerate(self.W):
            weighted = np.zeros((W.shape[0], W.shape[2]), dtype=F32)
            np.add.at(weighted, self.states[selected, s],
                      posterior * h[:, self.offsets[s]:self.offsets[s + 1]])
            estimates[s] = np.einsum("qfk,qk->f", W, weighted) * mass
        return estimates

    def filter_frames(self, V: npt.ArrayLike) -> tuple[Floats, Floats, npt.NDArray[np.int32]]:
        """Filter frames from a reset state, like the engine's test probe.

        Parameters
        ----------
        V : array-like, shape (T, F)
            Magnitude frames.

        Returns
        -------
        estimates : np.ndarray, shape (T, S, F)
        posteriors : np.ndarray, shape (T, J)
        evaluated : np.ndarray, shape (T,)
            Joint states fitted per frame.
        """
        frames = np.asarray(V, dtype=F32)
        if frames.ndim != 2 or frames.shape[1] != self.n_bins:
            raise ParameterError(f"V must be shaped (T, {self.n_bins}), got {frames.shape}")
        self.reset()
        estimates = np.empty((frames.shape[0], len(self.W), self.n_bins), dtype=F32)
        posteriors = np.empty((frames.shape[0], self.n_joint), dtype=F32)
        evaluated = np.empty(frames.shape[0], dtype=np.int32)
        for t, v in enumerate(frames):
            estimates[t] = self.process_frame(v)
            posteriors[t] = self.alpha
            evaluated[t] = self.n_evaluated
        return estimates, posteriors, evaluated


def soft_masks(estimates: Floats, *, power: float) -> Floats:
    """The engine's masks from estimates (S, F): an even split where the total is unusable."""
    powered = estimates * estimates if power == 2.0 else estimates
    total = powered.sum(axis=0, dtype=F32)
    usable = (total > 1e-30) & np.isfinite(total)
    even = F32(1.0) / F32(estimates.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(usable, powered / np.where(usable, total, F32(1.0)), even).astype(F32)


class NumpyStream:
    """The engine's streaming STFT in numpy: frames of n_fft every hop samples, a function
    of each frame's spectrum giving one spectrum per output channel, overlap-add, and the
    same fixed delay (n_fft - 1 samples, or with low-delay windows 2 hop - 1) for any block
    size.

    Parameters
    ----------
    n_fft, hop_length : int, keyword-only
        Framing, as the engine's.
    n_channels : int, keyword-only
        Output channels.
    on_frame : callable, keyword-only
        ``on_frame(spectrum (n_bins,) complex64) -> (n_channels, n_bins)`` spectra.
    low_delay : bool, keyword-only
        The asymmetric windows of :func:`livesep.spectral.low_delay_windows`.

    Attributes
    ----------
    fit_spectrum : np.ndarray, shape (n_bins,), complex64
        Within ``on_frame``: the frame through the symmetric analysis window, what
        dictionaries are fitted on (the spectrum ``on_frame`` got, unless low delay).
    """

    def __init__(self, *, n_fft: int, hop_length: int, n_channels: int,
                 on_frame: Callable[[npt.NDArray[np.complex64]], npt.ArrayLike],
                 low_delay: bool = False) -> None:
        self.n_fft, self.hop, self.n_channels = n_fft, hop_length, n_channels
        self.on_frame = on_frame
        self.fit_window: npt.NDArray[np.float32] | None = None
        if low_delay:
            window, synthesis = spectral.low_delay_windows(n_fft, hop_length)
            self.synthesis_length = 2 * hop_length
            self.fit_window = spectral.analysis_window(n_fft).astype(F32)
        else:
            window = spectral.analysis_window(n_fft)
            synthesis = spectral.synthesis_window(n_fft, hop_length)
            self.synthesis_length = n_fft
        self.window, self.synthesis = window.astype(F32), synthesis.astype(F32)
        self.reset()

    def latency_samples(self) -> int:
        """Output sample t is input sample t - latency_samples(), processed."""
        return self.synthesis_length - 1

    def reset(self) -> None:
        """Back to silence."""
        self.frame = np.zeros(self.n_fft, dtype=F32)
        self.accumulators = np.zeros((self.n_channels, self.n_fft), dtype=F32)
        self.ready = np.zeros((self.n_channels, self.hop), dtype=F32)
        self.filled = 0
        self.ready_read = 1

    def process(self, x: npt.ArrayLike) -> Floats:
        """Stream ``x`` (shape (n,)) through; returns (n_channels, n), float32."""
        x = np.asarray(x, dtype=F32)
        if x.ndim != 1:
            raise ParameterError(f"x must be mono, shaped (n,), got shape {x.shape}")
        out = np.empty((self.n_channels, x.size), dtype=F32)
        done = 0
        while done < x.size:
            take = min(x.size - done, self.hop - self.filled)
            chunk = x[done:done + take]
            start = self.n_fft - self.hop + self.filled
            self.frame[start:start + take] = np.where(np.isfinite(chunk), chunk, F32(0.0))
            self.filled += take
            due = self.filled == self.hop
            first = take - 1 if due else take
            out[:, done:done + first] = self.ready[:, self.ready_read:self.ready_read + first]
            self.ready_read += first
            if due:
                self._run_frame()
                out[:, done + take - 1] = self.ready[:, 0]
                self.ready_read = 1
                self.filled = 0
            done += take
        return out

    def _run_frame(self) -> None:
        spectrum = np.fft.rfft(self.frame * self.window).astype(np.complex64)
        self.fit_spectrum = spectrum if self.fit_window is None else \
            np.fft.rfft(self.frame * self.fit_window).astype(np.complex64)
        frames = np.fft.irfft(np.asarray(self.on_frame(spectrum)), n=self.n_fft, axis=1)
        self.accumulators += frames.astype(F32) * self.synthesis
        first = self.n_fft - self.synthesis_length
        self.ready[:] = self.accumulators[:, first:first + self.hop]
        self.accumulators[:, :-self.hop] = self.accumulators[:, self.hop:]
        self.accumulators[:, -self.hop:] = 0.0
        self.frame[:-self.hop] = self.frame[self.hop:]


class ReferenceSeparator:
    """Streaming STFT → filter → masks (smoothed over time as the settings say) →
    overlap-add, any block size, like the engine.

    Parameters
    ----------
    preset : Preset
        The trained sources; its n_fft and hop_length frame the stream.
    settings : EngineSettings, optional
        Inference settings, as for :func:`livesep.engine.create_separator`.
    """

    def __init__(self, preset: Preset, *, settings: EngineSettings | None = None) -> None:
        self.settings = (settings or EngineSettings()).resolved(preset)
        self.filter = ReferenceFilter(preset, settings=self.settings)
        self.n_sources = preset.n_sources
        self.masks = np.full((self.n_sources, preset.n_bins), 1.0 / self.n_sources, dtype=F32)
        hop, synthesis = latency_geometry(preset, self.settings.latency)
        self.new_smoother = partial(spectral.MaskSmoother, seconds=self.settings.smoothing,
                                    sr=preset.sr, hop_length=hop)
        self.smoother = self.new_smoother()
        self.stream = NumpyStream(n_fft=preset.n_fft, hop_length=hop,
                                  n_channels=self.n_sources, on_frame=self._separate_frame,
                                  low_delay=synthesis != 0)

    def latency_samples(self) -> int:
        """Output sample t is the separation of input sample t - latency_samples()."""
        return self.stream.latency_samples()

    def reset(self) -> None:
        """Back to silence, as right after construction."""
        self.stream.reset()
        self.filter.reset()
        self.smoother = self.new_smoother()
        self.masks[:] = 1.0 / self.n_sources

    def process(self, x: npt.ArrayLike) -> Floats:
        """Stream ``x`` (shape (n,)) through; returns the stems, shape (S, n), float32."""
        return self.stream.process(x)

    def _separate_frame(self, spectrum: npt.NDArray[np.complex64]) -> npt.NDArray[np.complex64]:
        magnitudes = np.abs(self.stream.fit_spectrum)
        estimates = self.filter.process_frame(magnitudes)
        self.masks = self.smoother.process(soft_masks(estimates, power=self.settings.mask_power),
                                           magnitudes)
        return spectrum[None, :] * self.masks
