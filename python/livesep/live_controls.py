"""The live host's controls: gains, mute, solo, bypass, preset switching and quality, all
reaching the audio thread without blocking it (the engine's and the live host's atomics, and
the engine's model hand-off).

A mixin of :class:`livesep.stream.LiveSeparator`, kept apart so that the stream module stays
about the audio path.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np

from livesep import presets
from livesep.engine import EngineSettings, build_model
from livesep.errors import ParameterError
from livesep.livestats import QualityGovernor
from livesep.presets import Preset

__all__ = ["LiveControls", "load_preset", "source_levels"]


class LiveControls:
    """Per-source gain, mute and solo, bypass, preset switching, quality and snapshots."""

    # Set by LiveSeparator (__init__ and start).
    preset: Preset
    settings: EngineSettings
    output: str
    bypass: bool
    engine: Any
    adaptive_quality: bool
    _lock: threading.RLock
    _snapshot_lock: threading.Lock
    _events: list[str]
    _gains: np.ndarray
    _muted: np.ndarray
    _soloed: np.ndarray
    _host: Any
    _governor: QualityGovernor | None

    def source_index(self, source: int | str) -> int:
        """A source's index from its index or name."""
        names = self.preset.source_names
        if isinstance(source, str):
            if source not in names:
                raise ParameterError(f"no source named {source!r} (sources: {', '.join(names)})")
            return names.index(source)
        if not 0 <= int(source) < len(names):
            raise ParameterError(f"source must be in [0, {len(names)}), got {source!r}")
        return int(source)

    def set_gain(self, source: int | str, gain: float) -> None:
        """Linear gain of one source (from the next STFT frame: overlap-add fades it)."""
        if not (np.isfinite(gain) and gain >= 0):
            raise ParameterError(f"gain must be finite and >= 0, got {gain!r}")
        self._gains[self.source_index(source)] = gain
        self._apply_controls()

    def set_muted(self, source: int | str, muted: bool) -> None:
        self._muted[self.source_index(source)] = bool(muted)
        self._apply_controls()

    def set_soloed(self, source: int | str, soloed: bool) -> None:
        self._soloed[self.source_index(source)] = bool(soloed)
        self._apply_controls()

    def set_bypass(self, bypass: bool) -> None:
        """Hear the input instead of the separation, at the same latency, without a click.

        Why this works without another code path: the soft masks of all sources sum to one,
        so the sum of the sources at unity gain *is* the input, delayed by the engine's
        latency. Bypass sets unity gains (the engine fades gains in by overlap-add); with
        ``output="stems"`` every channel also fades, over one block, to that sum.
        """
        self.bypass = bool(bypass)
        self._apply_controls()

    def _apply_controls(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is None:
            return
        for s in range(self.preset.n_sources):
            engine.set_gain(s, 1.0 if self.bypass else float(self._gains[s]))
            engine.set_muted(s, False if self.bypass else bool(self._muted[s]))
            engine.set_soloed(s, False if self.bypass else bool(self._soloed[s]))
        if self._host is not None:
            self._host.set_bypass(self.bypass)

    def switch_preset(self, preset: Preset | str | os.PathLike[str]) -> None:
        """Run another preset from the next block on, without stopping the stream.

        Raises
        ------
        ParameterError
            If the preset differs in rate, STFT or number of sources: that needs a restart
            (a new LiveSeparator), because the stream's buffers are prepared for them.
        """
        new = load_preset(preset)
        old = self.preset
        for field in ("sr", "n_fft", "hop_length", "n_sources"):
            if getattr(new, field) != getattr(old, field):
                raise ParameterError(
                    f"preset {new.name!r} has {field}={getattr(new, field)} but the running "
                    f"preset {old.name!r} has {getattr(old, field)}: switching needs a restart")
        model = build_model(new, self.settings)
        with self._lock:
            self.preset = new
            if getattr(self, "engine", None) is not None:
                self.engine.swap_model(model, mask_power=self.settings.mask_power)
                level = self._governor.level if self._governor else 0
                self._governor = self._make_governor(level)
                self._event(f"switched to preset {new.name!r}")

    def _make_governor(self, level: int = 0) -> QualityGovernor | None:
        if not self.adaptive_quality:
            return None
        n_joint = int(np.prod([source.n_states for source in self.preset.sources]))
        governor = QualityGovernor(self.settings.n_iter, self.settings.beam, n_joint)
        governor.level = min(level, len(governor.levels) - 1)
        self._set_quality(governor)
        return governor

    def _set_quality(self, governor: QualityGovernor) -> None:
        current = governor.current
        if current.level == 0:
            self.engine.set_quality(n_iter=-1, beam=-1)
        else:
            self.engine.set_quality(n_iter=current.n_iter, beam=current.beam)

    def _event(self, text: str) -> None:
        elapsed = time.monotonic() - getattr(self, "_started_at", time.monotonic())
        self._events.append(f"{elapsed:.1f} s: {text}")
        del self._events[:-20]

    # ----------------------------------------------------------------- monitoring
    def pop_snapshots(self, max_frames: int = 1 << 20) -> dict[str, Any]:
        """Per-frame display data since the last call (input spectrum, masks, state
        marginals; see ``Separator.pop_snapshots``). Call from one thread only: the ring has a
        single consumer. Never blocks the audio thread."""
        with self._snapshot_lock:
            return self.engine.pop_snapshots(max_frames=max_frames)

    def set_snapshots_enabled(self, enabled: bool) -> None:
        """Whether the engine writes display snapshots (off saves the audio thread a copy
        per frame when nothing displays them)."""
        self.engine.set_snapshots_enabled(bool(enabled))


def load_preset(preset: Preset | str | os.PathLike[str]) -> Preset:
    """A preset object as is, or loaded from a file or a shipped preset's name."""
    if isinstance(preset, Preset):
        return preset
    from livesep.shipped import resolve_preset

    return presets.load(resolve_preset(preset))


def source_levels(snapshots: dict[str, Any]) -> np.ndarray:
    """Each source's level in dB (relative to a full-scale spectrum) over the snapshots
    given by :meth:`LiveSeparator.pop_snapshots`; -inf where silent or none came."""
    masks, spectrum = snapshots["masks"], snapshots["spectrum"]
    if masks.shape[0] == 0:
        return np.full(masks.shape[1], -np.inf)
    energy = np.mean(np.sum((masks * spectrum[:, None, :]) ** 2, axis=2), axis=0)
    reference = (spectrum.shape[1] - 1) ** 2 / 4.0  # a full-scale sine in one bin, sqrt-hann
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(energy / reference)
