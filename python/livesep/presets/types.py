"""The in-memory preset: :class:`SourceModel` (one trained source) and :class:`Preset`."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.checks import check_int, show, type_name
from livesep.errors import ParameterError
from livesep.presets.checks import (
    Invalid,
    as_float32,
    check_bool,
    check_frames,
    check_model_arrays,
    check_provenance,
    check_settings,
    check_source_list,
    check_source_name,
    json_default,
)
from livesep.presets.format import (
    ARRAYS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_ELEMENTS,
    MAX_FRAMES,
    MAX_META_CHARS,
    WINDOW,
    running_version,
)
from livesep.presets.info import PresetSizes

__all__ = ["Preset", "SourceModel", "meta_dict", "meta_json"]


@dataclass(frozen=True, eq=False, repr=False)
class SourceModel:
    """The trained model of one source: an N-HMM, or plain NMF when it has one state, or
    convolutive NMF (NMFD) when its templates span several frames.

    Parameters
    ----------
    name : str
        The source's name (``"voice"``, ``"noise"``); also the stem of the file
        ``livesep separate`` writes, so it may not contain ``/`` or ``\\``.
    W : array-like, shape (n_states, n_bins, n_components), keyword-only
        One dictionary per state; every column ``W[q, :, k]`` sums to 1. For a convolutive
        source (``frames > 1``) shaped (frames, n_bins, n_components) instead: one block per
        time lag (``W[0]`` for the current frame, ``W[l]`` for the frame ``l`` back), and
        every template ``W[:, :, k]`` sums to 1 over lags and bins together.
    A : array-like, shape (n_states, n_states), keyword-only
        Transition matrix, ``A[i, j] = P(q_t = j | q_t-1 = i)``; rows sum to 1.
    pi : array-like, shape (n_states,), keyword-only
        Initial state distribution; sums to 1.
    adaptive : bool, keyword-only
        Whether the engine may adapt this source's dictionaries to the input (false:
        fixed, as trained).
    frames : int, keyword-only
        1 (the default), or the length in frames (2 to 64) of a convolutive source's
        templates; such a source has one state (``A = [[1]]``, ``pi = [1]``) and is not
        adaptive. See :meth:`from_nmfd`.
    provenance : dict, keyword-only
        How the model was trained, as free-form JSON: by convention ``files``,
        ``seconds``, ``iterations``, ``log_likelihood``, ``seed``, ``settings``. numpy
        scalars and arrays and paths are converted to JSON values.

    Raises
    ------
    ParameterError
        If a shape, a dtype or a value is wrong (non-finite, negative, not stochastic).

    Notes
    -----
    The arrays are stored as read-only float32 copies and the model is immutable.
    """

    name: str
    _: KW_ONLY
    W: npt.NDArray[np.float32]
    A: npt.NDArray[np.float32]
    pi: npt.NDArray[np.float32]
    adaptive: bool = False
    frames: int = 1
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            name = check_source_name("name", self.name)
            W, A, pi = (as_float32(key, getattr(self, key)) for key in ARRAYS)
            frames = check_int("frames", self.frames, low=1, high=MAX_FRAMES, error=Invalid)
            check_model_arrays(W, A, pi, prefix="", frames=frames)
            adaptive = check_bool("adaptive", self.adaptive)
            check_frames("frames", frames, n_states=A.shape[0], adaptive=adaptive)
            provenance = check_provenance("provenance", self.provenance)
        except Invalid as error:
            raise ParameterError(f"source {show(self.name)}: {error}") from None
        for key, value in (("name", name), ("W", W), ("A", A), ("pi", pi),
                           ("adaptive", adaptive), ("frames", frames),
                           ("provenance", provenance)):
            object.__setattr__(self, key, value)

    @classmethod
    def from_nmf(cls, name: str, W: npt.ArrayLike, *, adaptive: bool = False,
                 provenance: Mapping[str, Any] | None = None) -> SourceModel:
        """A plain NMF / PLCA model: one state, ``A = [[1]]``, ``pi = [1]``.

        Parameters
        ----------
        name : str
            The source's name.
        W : array-like, shape (n_bins, n_components)
            The dictionary; every column sums to 1.
        adaptive, provenance : keyword-only
            As for :class:`SourceModel`.

        Returns
        -------
        SourceModel
            With ``W`` of shape ``(1, n_bins, n_components)``.
        """
        dictionary = np.asarray(W)
        if dictionary.ndim != 2:
            raise ParameterError(f"source {show(name)}: an NMF dictionary W must be shaped "
                                 f"(n_bins, n_components), got shape {dictionary.shape}")
        return cls(name, W=dictionary[np.newaxis], A=np.ones((1, 1), np.float32),
                   pi=np.ones(1, np.float32), adaptive=adaptive,
                   provenance=dict(provenance or {}))

    @classmethod
    def from_nmfd(cls, name: str, W: npt.ArrayLike, *,
                  provenance: Mapping[str, Any] | None = None) -> SourceModel:
        """A convolutive NMF (NMFD) model: templates spanning several frames, one state.

        Parameters
        ----------
        name : str
            The source's name.
        W : array-like, shape (frames, n_bins, n_components)
            One block per time lag (``W[0]`` the current frame's, ``W[l]`` the one ``l``
            frames back), as :func:`livesep.models.nmfd.train_nmfd` learns it; every
            template ``W[:, :, k]`` sums to 1 over lags and bins together.
        provenance : keyword-only
            As for :class:`SourceModel`.

        Returns
        -------
        SourceModel
            With ``frames = W.shape[0]``, ``A = [[1]]``, ``pi = [1]``, not adaptive (with
            one frame, a plain NMF model).
        """
        dictionary = np.asarray(W)
        if dictionary.ndim != 3:
            raise ParameterError(f"source {show(name)}: an NMFD dictionary W must be shaped "
                                 f"(frames, n_bins, n_components), got shape "
                                 f"{dictionary.shape}")
        return cls(name, W=dictionary, A=np.ones((1, 1), np.float32),
                   pi=np.ones(1, np.float32), frames=dictionary.shape[0],
                   provenance=dict(provenance or {}))

    @property
    def n_states(self) -> int:
        """Q, the number of states (1 for a convolutive source)."""
        return 1 if self.frames > 1 else int(self.W.shape[0])

    @property
    def n_bins(self) -> int:
        """F, the number of frequency bins (``n_fft // 2 + 1``)."""
        return int(self.W.shape[1])

    @property
    def n_components(self) -> int:
        """K, the number of dictionary columns per state (templates, if convolutive)."""
        return int(self.W.shape[2])

    @property
    def n_parameters(self) -> int:
        """The numbers held in W, A and pi together."""
        return int(self.W.size + self.A.size + self.pi.size)

    @property
    def nbytes(self) -> int:
        """The bytes W, A and pi take (float32)."""
        return 4 * self.n_parameters

    def renamed(self, name: str) -> SourceModel:
        """The same model under another name (to combine two sources called alike)."""
        return dataclasses.replace(self, name=name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceModel):
            return NotImplemented
        return (self.name == other.name and self.adaptive == other.adaptive
                and self.frames == other.frames and self.provenance == other.provenance
                and all(np.array_equal(getattr(self, key), getattr(other, key))
                        for key in ARRAYS))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        frames = f", frames={self.frames}" if self.frames > 1 else ""
        return (f"SourceModel({self.name!r}, n_states={self.n_states}, "
                f"n_bins={self.n_bins}, n_components={self.n_components}, "
                f"adaptive={self.adaptive}{frames})")


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
    model : {"nmf", "nhmm"}, keyword-only
        How the sources were trained; ``"nmf"`` requires one state per source (plain or
        convolutive NMF).
    sources : sequence of SourceModel, keyword-only
        1 to 16 sources, names distinct ignoring case, each with ``n_fft // 2 + 1`` bins.
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
                              model=self.model, label="sources[{}]")
            n_bins = self.n_fft // 2 + 1
            for index, source in enumerate(sources):
                if source.n_bins != n_bins:
                    raise Invalid(f"sources[{index}] ({source.name!r}) has {source.n_bins} "
                                  f"bins but n_fft={self.n_fft} needs {n_bins}")
            total = sum(source.n_parameters for source in sources)
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
        model : {"nmf", "nhmm"} or None, keyword-only
            ``None`` keeps this preset's model if every source fits it, else ``"nhmm"``.

        Returns
        -------
        Preset
            Created now, by this livesep.
        """
        chosen = tuple(sources)
        if model is None:
            model = self.model
            if model == "nmf" and any(getattr(s, "n_states", 1) != 1 for s in chosen):
                model = "nhmm"
        return dataclasses.replace(
            self, name=self.name if name is None else name,
            description=self.description if description is None else description,
            model=model, sources=chosen, created=_now(), livesep_version=running_version())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Preset):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name)
                   for f in dataclasses.fields(self))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        sources = ", ".join(f"{s.name!r}: {s.n_states}x{s.n_components}"
                            + (f" ({s.frames} frames)" if s.frames > 1 else "")
                            for s in self.sources)
        return (f"Preset({self.name!r}, model={self.model!r}, sr={self.sr}, "
                f"n_fft={self.n_fft}, hop_length={self.hop_length}, sources={{{sources}}})")


# --------------------------------------------------------------------------- the meta entry

def meta_dict(preset: Preset) -> dict[str, Any]:
    """The ``meta`` JSON object of a preset file, as a dict."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
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
                     "provenance": source.provenance} for source in preset.sources],
    }


def meta_json(preset: Preset) -> str:
    """The ``meta`` JSON text of a preset file."""
    try:
        return json.dumps(meta_dict(preset), ensure_ascii=False, allow_nan=False,
                          default=json_default)
    except (TypeError, ValueError, RecursionError) as error:
        # Only if someone mutated a provenance dict after construction.
        raise ParameterError(f"preset {preset.name!r}: metadata is not JSON: {error}") from None
