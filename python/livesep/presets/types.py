"""The in-memory preset: :class:`Preset`, its sources (:class:`SourceModel`, in
:mod:`livesep.presets.source`) and its ``meta`` entry."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np

from livesep.checks import show, type_name
from livesep.errors import ParameterError
from livesep.presets.checks import (
    Invalid,
    check_fit_bands_above,
    check_fit_bins,
    check_settings,
    check_source_list,
    json_default,
)
from livesep.presets.encoder import Encoder
from livesep.presets.format import (
    FORMAT_NAME,
    FORMAT_VERSIONS,
    MAX_ELEMENTS,
    MAX_META_CHARS,
    WINDOW,
    running_version,
)
from livesep.presets.info import PresetSizes
from livesep.presets.source import SourceModel

__all__ = ["Preset", "meta_dict", "meta_json"]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True, eq=False, repr=False)
class Preset(PresetSizes):
    """Source models for one analysis setting: what :func:`~livesep.presets.load` returns.

    Parameters
    ----------
    name : str
        A short title, shown in the preset list.
    description : str, keyword-only
        Free text: what the preset separates and how it was made.
    sr : int, keyword-only
        Sample rate in Hz, in [1000, 384000].
    n_fft, hop_length : int, keyword-only
        STFT frame and hop in samples (see :func:`livesep.spectral.check_stft_settings`).
    window : str, keyword-only
        Always ``"sqrt-hann"``.
    model : {"nmf", "nhmm", "nae"}, keyword-only
        How the sources were trained; ``"nmf"`` requires one state per source (plain,
        convolutive or unfolded NMF), and unfolded sources require ``"nmf"``; ``"nae"``
        (a recurrent non-negative autoencoder) requires an ``encoder`` and plain sources,
        its decoder.
    sources : sequence of SourceModel, keyword-only
        1 to 16 sources, names distinct ignoring case, each with ``n_fft // 2 + 1`` bins;
        all unfolded with the same layers, or none.
    encoder : Encoder or None, keyword-only
        Model ``"nae"``'s recurrent encoder (:mod:`livesep.presets.encoder`), whose outputs
        are the sources' activations.
    fit_bins : int or None, keyword-only
        Fit the activations on the lowest ``fit_bins`` bins only (2 to ``n_fft // 2``), and
        make the estimates of every bin from them: a full-band preset that separates like
        one at a lower rate and gives the band above to the sources its dictionaries put
        there; a noise floor joins the fit on those bins. None fits every bin (an unfolded
        preset, its layers' own bins: :attr:`fitted_bins`). Only for sources without layers,
        frames or adaptation, and no encoder.
    fit_bands_above : float or None, keyword-only
        Fit the activations bin by bin below this frequency (Hz, in (0, sr / 2)) and on
        bands of 1/12 octave above it (format version 7), the estimates and masks staying at
        full resolution: the engine's ``bands_above`` when that is not set
        (:class:`~livesep.engine.EngineSettings`). For a full-band preset whose dictionaries
        above a few kHz are smooth, nearly the same separation for a fraction of the work.
        Only for sources without frames or adaptation, no encoder, and not with ``fit_bins``.
    companion : Preset or None, keyword-only
        A second model of the same sources (names in the same order), without a companion
        of its own, run beside this one on the same frames; its masks are mixed into this
        preset's before any smoothing (format version 6). Two models whose errors differ make
        better masks together. Its ``n_fft`` and ``hop_length`` are this preset's, at the
        same ``sr`` or as long in seconds at a lower one: then it reads the lower bins of
        the same frames (a 16 kHz model beside a 48 kHz preset covers the bins up to 8 kHz).
    companion_share : float, keyword-only
        The companion's share of the masks, in (0, 1): masks are ``(1 - share)`` this
        preset's plus ``share`` the companion's, on the bins the companion covers (this
        preset's alone above them). Only with a companion (0 without).
    created : str, keyword-only
        ISO 8601 date or date-time; defaults to now (UTC).
    livesep_version : str, keyword-only
        The livesep that made it; defaults to this one.

    Raises
    ------
    ParameterError
        If a field is invalid or the sources do not fit the settings.
    """

    name: str
    _: KW_ONLY
    description: str = ""
    sr: int
    n_fft: int
    hop_length: int
    window: str = WINDOW
    model: str
    sources: tuple[SourceModel, ...]
    encoder: Encoder | None = None
    fit_bins: int | None = None
    fit_bands_above: float | None = None
    companion: Preset | None = None
    companion_share: float = 0.0
    created: str = field(default_factory=_now)
    livesep_version: str = field(default_factory=running_version)

    def __post_init__(self) -> None:
        try:
            check_settings(name=self.name, description=self.description, sr=self.sr,
                           n_fft=self.n_fft, hop_length=self.hop_length, window=self.window,
                           model=self.model, created=self.created,
                           livesep_version=self.livesep_version)
            if isinstance(self.sources, (str, bytes, Mapping)) or not isinstance(
                    self.sources, Iterable):
                raise Invalid(f"sources must be a sequence of SourceModel, "
                              f"got {show(self.sources)}")
            sources = tuple(self.sources)
            for index, source in enumerate(sources):
                if not isinstance(source, SourceModel):
                    raise Invalid(f"sources[{index}] must be a SourceModel, "
                                  f"got {show(source)} ({type_name(source)})")
            check_source_list([s.name for s in sources], [s.n_states for s in sources],
                              [s.layers for s in sources], model=self.model,
                              label="sources[{}]")
            n_bins = self.n_fft // 2 + 1
            for index, source in enumerate(sources):
                if source.n_bins != n_bins:
                    raise Invalid(f"sources[{index}] ({source.name!r}) has {source.n_bins} "
                                  f"bins but n_fft={self.n_fft} needs {n_bins}")
            self._check_encoder(sources)
            self._check_companion(sources)
            plain = self.encoder is None and not any(
                s.layers or s.frames > 1 or s.adaptive for s in sources)
            object.__setattr__(self, "fit_bins", check_fit_bins(
                self.fit_bins, n_bins=self.n_fft // 2 + 1, plain=plain))
            object.__setattr__(self, "fit_bands_above", check_fit_bands_above(
                self.fit_bands_above, sr=self.sr, fit_bins=self.fit_bins,
                banded=self.encoder is None and not any(s.frames > 1 or s.adaptive
                                                        for s in sources)))
            total = sum(source.n_parameters for source in sources) + (
                self.encoder.n_parameters if self.encoder is not None else 0) + (
                self.companion.n_parameters if self.companion is not None else 0)
            if total > MAX_ELEMENTS:
                raise Invalid(f"sources hold {total} numbers, more than the "
                              f"{MAX_ELEMENTS} a preset may hold")
        except Invalid as error:
            raise ParameterError(f"preset {show(self.name)}: {error}") from None
        object.__setattr__(self, "sources", sources)
        for key in ("sr", "n_fft", "hop_length"):
            object.__setattr__(self, key, int(getattr(self, key)))
        meta_chars = len(meta_json(self))
        if meta_chars > MAX_META_CHARS:
            raise ParameterError(f"preset {show(self.name)}: its metadata (names, "
                                 f"description, provenance) takes {meta_chars} characters "
                                 f"as JSON, more than {MAX_META_CHARS}")

    def _check_encoder(self, sources: tuple[SourceModel, ...]) -> None:
        """Model "nae" and an encoder come together, the encoder's outputs fitting the
        sources (plain, one state each)."""
        if self.encoder is None:
            if self.model == "nae":
                raise Invalid("model 'nae' needs an encoder")
            return
        if not isinstance(self.encoder, Encoder):
            raise Invalid(f"encoder must be an Encoder or None, got {show(self.encoder)}")
        if self.model != "nae":
            raise Invalid(f"an encoder needs model 'nae', got {self.model!r}")
        if self.encoder.n_bins != self.n_fft // 2 + 1:
            raise Invalid(f"the encoder takes {self.encoder.n_bins} bins but n_fft="
                          f"{self.n_fft} gives {self.n_fft // 2 + 1}")
        components = tuple(s.n_components for s in sources)
        plain = all(s.frames == 1 and not s.layers and not s.adaptive and not s.floor
                    for s in sources)
        if self.encoder.n_components != components or not plain:
            raise Invalid(f"the encoder's outputs ({list(self.encoder.n_components)} "
                          f"components) must be the sources' activations: plain sources with "
                          f"those components, got {list(components)}")

    def _check_companion(self, sources: tuple[SourceModel, ...]) -> None:
        """A companion separates the same sources from the same frames, alone."""
        share = self.companion_share
        if self.companion is None:
            if share != 0:
                raise Invalid(f"companion_share is {show(share)} but there is no companion")
            return
        other = self.companion
        if not isinstance(other, Preset):
            raise Invalid(f"companion must be a Preset or None, got {show(other)}")
        if other.companion is not None:
            raise Invalid(f"the companion {other.name!r} has a companion of its own")
        names = tuple(s.name for s in sources)
        # At a lower rate, frames as long in seconds: the companion reads the lower bins.
        if other.source_names != names or other.sr > self.sr \
                or other.n_fft * self.sr != self.n_fft * other.sr \
                or other.hop_length * self.sr != self.hop_length * other.sr:
            raise Invalid(
                f"the companion {other.name!r} must have the sources {names}, and n_fft "
                f"{self.n_fft} and hop_length {self.hop_length} at sr {self.sr} or the same "
                f"in seconds at a lower sr; got sources {other.source_names}, n_fft "
                f"{other.n_fft} and hop_length {other.hop_length} at sr {other.sr}")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
            raise Invalid(f"companion_share must be a number in (0, 1), got {show(share)}")
        object.__setattr__(self, "companion_share", float(share))

    @property
    def n_parameters(self) -> int:
        """Numbers the preset holds: its sources', its encoder's and its companion's."""
        return sum(source.n_parameters for source in self.sources) + (
            self.encoder.n_parameters if self.encoder is not None else 0) + (
            self.companion.n_parameters if self.companion is not None else 0)

    @property
    def fitted_bins(self) -> int:
        """The bins the fit covers: :attr:`fit_bins` when set; for unfolded sources, one past
        the last row any layer's dictionary uses (a full-band preset may fit on the band
        below a few kHz and make its estimates of every bin from the same activations);
        every bin otherwise."""
        if self.fit_bins is not None:
            return self.fit_bins
        if not self.sources[0].layers:
            return self.n_bins
        used = np.flatnonzero(np.any([np.any(s.W[:-1] != 0, axis=(0, 2))
                                      for s in self.sources], axis=0))
        return int(used[-1]) + 1 if used.size else 1

    def source(self, name: str) -> SourceModel:
        """The source called ``name`` (exactly); :class:`ParameterError` if there is none."""
        for source in self.sources:
            if source.name == name:
                return source
        raise ParameterError(f"preset {self.name!r} has no source {name!r} "
                             f"(it has {', '.join(map(repr, self.source_names))})")

    def with_sources(self, sources: Iterable[SourceModel], *, name: str | None = None,
                     description: str | None = None, model: str | None = None) -> Preset:
        """A new preset with the same analysis settings and other sources.

        Parameters
        ----------
        sources : iterable of SourceModel
            The new sources (each with :attr:`n_bins` bins).
        name, description : str or None, keyword-only
            New texts; ``None`` keeps this preset's.
        model : {"nmf", "nhmm", "nae"} or None, keyword-only
            ``None`` keeps this preset's model if every source fits it, else ``"nhmm"``
            (``"nmf"`` for unfolded sources). The encoder of a ``"nae"`` preset is kept
            only while the model stays ``"nae"``.

        Returns
        -------
        Preset
            Created now, by this livesep.
        """
        chosen = tuple(sources)
        if model is None:
            model = self.model
            if any(getattr(s, "layers", 0) for s in chosen):
                model = "nmf"
            elif model == "nmf" and any(getattr(s, "n_states", 1) != 1 for s in chosen):
                model = "nhmm"
        return dataclasses.replace(
            self, name=self.name if name is None else name,
            description=self.description if description is None else description,
            model=model, sources=chosen, encoder=self.encoder if model == "nae" else None,
            companion=None, companion_share=0.0, created=_now(),
            livesep_version=running_version())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Preset):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name)
                   for f in dataclasses.fields(self))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        sources = ", ".join(f"{s.name!r}: {s.n_states}x{s.n_components}"
                            + (f" ({s.frames} frames)" if s.frames > 1 else "")
                            + (f" (unfolded, {s.layers} layers)" if s.layers else "")
                            for s in self.sources)
        extras = (f", encoder={self.encoder!r}" if self.encoder is not None else "") + (
            f", fit_bins={self.fit_bins}" if self.fit_bins is not None else "") + (
            f", fit_bands_above={self.fit_bands_above:g}"
            if self.fit_bands_above is not None else "") + (
            f", companion={self.companion.name!r} ({self.companion_share:g})"
            if self.companion is not None else "")
        return (f"Preset({self.name!r}, model={self.model!r}, sr={self.sr}, "
                f"n_fft={self.n_fft}, hop_length={self.hop_length}, sources={{{sources}}}"
                f"{extras})")


# --------------------------------------------------------------------------- the meta entry

def _oldest_version(preset: Preset) -> int:
    """The index in FORMAT_VERSIONS of the oldest version that holds the preset: 7 for a fit
    on bands, 6 for a companion or a noise-aware encoder, 5 for a fit on the lower bins, 4
    for a noise floor, 3 for an encoder, 2 for unfolded sources."""
    encoder = preset.encoder
    return (6 if preset.fit_bands_above is not None
            else 5 if preset.companion is not None or (encoder is not None and encoder.noise_aware)
            else 4 if preset.fit_bins is not None
            else 3 if any(s.floor for s in preset.sources)
            else 2 if encoder is not None
            else 1 if any(s.layers for s in preset.sources) else 0)


def meta_dict(preset: Preset) -> dict[str, Any]:
    """The ``meta`` JSON object of a preset file, as a dict."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSIONS[_oldest_version(preset)],
        "name": preset.name,
        "description": preset.description,
        "sr": preset.sr,
        "n_fft": preset.n_fft,
        "hop_length": preset.hop_length,
        "window": preset.window,
        "model": preset.model,
        "created": preset.created,
        "livesep_version": preset.livesep_version,
        "sources": [{"name": source.name, "n_states": source.n_states,
                     "n_components": source.n_components, "adaptive": source.adaptive,
                     **({"frames": source.frames} if source.frames > 1 else {}),
                     **({"layers": source.layers} if source.layers else {}),
                     **({"floor": source.floor} if source.floor else {}),
                     "provenance": source.provenance} for source in preset.sources],
        **({"encoder": {"hidden": preset.encoder.n_hidden, "layers": preset.encoder.n_layers,
                        **({"features": "noise-aware"} if preset.encoder.noise_aware else {})}}
           if preset.encoder is not None else {}),
        **({"fit_bins": preset.fit_bins} if preset.fit_bins is not None else {}),
        **({"fit_bands_above": preset.fit_bands_above}
           if preset.fit_bands_above is not None else {}),
        **({"companion": {"share": preset.companion_share,
                          "preset": meta_dict(preset.companion)}}
           if preset.companion is not None else {}),
    }


def meta_json(preset: Preset) -> str:
    """The ``meta`` JSON text of a preset file."""
    try:
        return json.dumps(meta_dict(preset), ensure_ascii=False, allow_nan=False,
                          default=json_default)
    except (TypeError, ValueError, RecursionError) as error:
        # Only if someone mutated a provenance dict after construction.
        raise ParameterError(f"preset {preset.name!r}: metadata is not JSON: {error}") from None
