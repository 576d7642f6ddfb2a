"""Presets: the trained source models livesep separates with, and the file that holds them.

A preset is a set of 1 to 16 source models trained for one analysis setting (sample rate,
FFT size, hop). Source ``s`` has ``Q`` states; state ``q`` owns a dictionary ``W[q]`` of
``K`` spectral shapes over ``F = n_fft // 2 + 1`` bins (each column sums to 1), and the
states follow a Markov chain with transition matrix ``A`` (rows sum to 1) and initial
distribution ``pi``. Plain supervised NMF / PLCA is ``Q = 1`` (``A = [[1]]``, ``pi = [1]``).

File format ``livesep-preset``, version 1
-----------------------------------------
One ``.npz`` file (a zip of ``.npy`` members, written compressed by :func:`save`; stored
members are accepted too). It is always read with ``allow_pickle=False``. Its entries:

``meta``
    A 0-d numpy unicode array (``<U…``) holding one JSON object::

        {"format": "livesep-preset", "version": 1,
         "name": str, "description": str,
         "sr": int, "n_fft": int, "hop_length": int, "window": "sqrt-hann",
         "model": "nmf" | "nhmm",
         "created": ISO 8601 date or date-time, "livesep_version": str,
         "sources": [{"name": str, "n_states": Q, "n_components": K,
                      "adaptive": bool, "provenance": {...}}, ...]}

    ``adaptive`` (default false) and ``provenance`` (default ``{}``) may be left out; every
    other field is required and no other field is allowed. ``provenance`` is free-form
    JSON; the trainers use the keys ``files``, ``seconds``, ``iterations``,
    ``log_likelihood``, ``seed`` and ``settings``.
``source{i}.W``
    Source ``i`` (its position in ``meta["sources"]``), shape ``(Q, F, K)``, float32.
``source{i}.A``
    Shape ``(Q, Q)``, float32, rows sum to 1.
``source{i}.pi``
    Shape ``(Q,)``, float32, sums to 1.

Nothing else may be in the file. :func:`load` checks every field, every ``.npy`` header
(before any array data is read, so a file claiming a huge array cannot make it allocate) and
every value, and raises :class:`~livesep.errors.PresetError` naming the file, the field and
the value.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Union

import numpy as np
import numpy.typing as npt

from livesep.errors import ParameterError, PresetError
from livesep.files import atomic_write
from livesep.spectral import check_stft_settings

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_ELEMENTS",
    "MAX_SOURCES",
    "MODELS",
    "WINDOW",
    "Preset",
    "PresetInfo",
    "SourceInfo",
    "SourceModel",
    "combine",
    "describe",
    "load",
    "load_meta",
    "save",
]

#: The ``format`` field of every preset file.
FORMAT_NAME = "livesep-preset"
#: The one file format version this livesep reads and writes.
FORMAT_VERSION = 1
#: The only analysis window the engine uses.
WINDOW = "sqrt-hann"
#: The model families a preset may declare.
MODELS = ("nmf", "nhmm")
#: Most sources one preset may hold.
MAX_SOURCES = 16
#: Most numbers (elements of W, A and pi together) one preset may hold: 256 MiB as float32.
MAX_ELEMENTS = 64 * 2**20
#: Sample rates a preset may declare, in Hz.
MIN_SR, MAX_SR = 1000, 384000
#: Largest ``meta`` JSON text, in characters.
MAX_META_CHARS = 4 * 2**20
#: Longest preset or source name, in characters.
MAX_NAME_CHARS = 100
#: How far a column of W, a row of A or pi may sum from 1.
SUM_TOLERANCE = 1e-3

_ARRAYS = ("W", "A", "pi")
_PRESET_FIELDS = ("format", "version", "name", "description", "sr", "n_fft", "hop_length",
                  "window", "model", "created", "livesep_version", "sources")
_SOURCE_FIELDS = ("name", "n_states", "n_components")
_SOURCE_OPTIONAL = ("adaptive", "provenance")
_ARRAY_KEY = re.compile(r"source(0|[1-9][0-9]*)\.(W|A|pi)")


class _Invalid(Exception):
    """A validation failure; its message names the field and the value, not the file."""


# --------------------------------------------------------------------------- field checks

def _show(value: object, limit: int = 60) -> str:
    """``repr`` of a value, shortened for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check_int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _Invalid(f"{name} must be an integer, got {_show(value)} ({_type_name(value)})")
    if not low <= value <= high:
        raise _Invalid(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def _check_str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string, got {_show(value)} ({_type_name(value)})")
    return value


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _Invalid(f"{name} must be true or false, got {_show(value)} ({_type_name(value)})")
    return bool(value)


def _check_label(value: object, name: str) -> str:
    """A preset name: non-empty, bounded, no control characters."""
    text = _check_str(value, name)
    if not text.strip() or len(text) > MAX_NAME_CHARS:
        raise _Invalid(f"{name} must be 1 to {MAX_NAME_CHARS} characters and not blank, "
                       f"got {_show(text)}")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        raise _Invalid(f"{name} must not hold control characters, got {_show(text)}")
    return text


def _check_source_name(value: object, name: str) -> str:
    """A source name; also the stem of the file ``separate`` writes, so no path tricks."""
    text = _check_label(value, name)
    if text != text.strip() or text in (".", "..") or "/" in text or "\\" in text:
        raise _Invalid(f"{name} must not contain '/' or '\\', be '.' or '..', or start or end "
                       f"with whitespace, got {_show(text)}")
    return text


def _json_default(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _check_provenance(value: object, name: str) -> dict[str, Any]:
    """A free-form JSON object; returns a detached copy made of plain JSON types."""
    if not isinstance(value, Mapping):
        raise _Invalid(f"{name} must be a JSON object (dict), got {_show(value)} "
                       f"({_type_name(value)})")
    if not all(isinstance(key, str) for key in value):
        raise _Invalid(f"{name} keys must be strings, got {_show(list(value))}")
    try:
        text = json.dumps(dict(value), allow_nan=False, default=_json_default)
        return dict(json.loads(text))
    except (TypeError, ValueError, RecursionError) as error:
        raise _Invalid(f"{name} must hold only JSON values (finite numbers, strings, lists, "
                       f"dicts with string keys): {error}") from None


def _check_settings(*, name: object, description: object, sr: object, n_fft: object,
                    hop_length: object, window: object, model: object, created: object,
                    livesep_version: object) -> None:
    """Check a preset's scalar fields; raise :class:`_Invalid` naming the first bad one."""
    _check_label(name, "name")
    _check_str(description, "description")
    _check_int(sr, "sr", MIN_SR, MAX_SR)
    _check_int(n_fft, "n_fft", 16, 65536)
    _check_int(hop_length, "hop_length", 1, 65536)
    try:
        check_stft_settings(n_fft, hop_length)  # type: ignore[arg-type]
    except ParameterError as error:
        raise _Invalid(str(error)) from None
    if window != WINDOW:
        raise _Invalid(f"window must be {WINDOW!r}, got {_show(window)}")
    if model not in MODELS:
        raise _Invalid(f"model must be one of {', '.join(map(repr, MODELS))}, "
                       f"got {_show(model)}")
    _check_str(created, "created")
    try:
        datetime.datetime.fromisoformat(created)  # type: ignore[arg-type]
    except ValueError:
        raise _Invalid(f"created must be an ISO 8601 date or date-time, "
                       f"got {_show(created)}") from None
    version = _check_str(livesep_version, "livesep_version")
    if not version.strip() or len(version) > MAX_NAME_CHARS:
        raise _Invalid(f"livesep_version must be 1 to {MAX_NAME_CHARS} characters, "
                       f"got {_show(version)}")


def _check_source_list(names: list[str], states: list[int], *, model: str,
                       label: str) -> None:
    """Count, unique names (ignoring case) and model consistency of a preset's sources."""
    if not 1 <= len(names) <= MAX_SOURCES:
        raise _Invalid(f"sources: a preset holds 1 to {MAX_SOURCES} sources, got {len(names)}")
    seen: dict[str, int] = {}
    for index, source_name in enumerate(names):
        key = source_name.casefold()
        if key in seen:
            raise _Invalid(f"{label.format(index)}.name {source_name!r} duplicates "
                           f"{label.format(seen[key])}.name {names[seen[key]]!r} "
                           f"(source names must differ, ignoring case)")
        seen[key] = index
    if model == "nmf":
        for index, n_states in enumerate(states):
            if n_states != 1:
                raise _Invalid(f"{label.format(index)} has {n_states} states but model 'nmf' "
                               f"has one state per source (use model 'nhmm')")


# --------------------------------------------------------------------------- array checks

def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _as_float32(value: object, name: str) -> npt.NDArray[np.float32]:
    """A detached, read-only, C-contiguous float32 copy of real-valued array data."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise _Invalid(f"{name} must be an array of real numbers: {error}") from None
    if array.dtype.kind not in "fiu":
        raise _Invalid(f"{name} must hold real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.array(array, dtype=np.float32, order="C", copy=True)
    out.flags.writeable = False
    return out


def _check_values(array: npt.NDArray[np.float32], name: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        where = _index(int(np.argmax(bad)), array.shape)
        raise _Invalid(f"{name} holds a non-finite value ({array[where]}) at index {where}")
    negative = array < 0
    if negative.any():
        where = _index(int(np.argmax(negative)), array.shape)
        raise _Invalid(f"{name} holds a negative value ({array[where]:.6g}) at index {where}")


def _check_sums(sums: npt.NDArray[np.float64], name: str, what: str) -> None:
    error = np.abs(sums - 1.0)
    if error.size and float(error.max()) > SUM_TOLERANCE:
        worst = _index(int(np.argmax(error)), sums.shape)
        raise _Invalid(f"{name}: {what.format(*worst)} sums to {float(sums[worst]):.6g}, "
                       f"not 1 (tolerance {SUM_TOLERANCE:g})")


def _check_model_arrays(W: npt.NDArray[np.float32], A: npt.NDArray[np.float32],
                        pi: npt.NDArray[np.float32], *, prefix: str) -> None:
    """Shapes and values of one source's arrays; ``prefix`` goes before W, A and pi."""
    if W.ndim != 3 or min(W.shape, default=0) < 1:
        raise _Invalid(f"{prefix}W must be shaped (n_states, n_bins, n_components) with "
                       f"every size at least 1, got shape {W.shape}")
    n_states = W.shape[0]
    if A.shape != (n_states, n_states):
        raise _Invalid(f"{prefix}A must be shaped ({n_states}, {n_states}) for {n_states} "
                       f"state(s) (W has shape {W.shape}), got shape {A.shape}")
    if pi.shape != (n_states,):
        raise _Invalid(f"{prefix}pi must be shaped ({n_states},) for {n_states} state(s) "
                       f"(W has shape {W.shape}), got shape {pi.shape}")
    for key, array in (("W", W), ("A", A), ("pi", pi)):
        _check_values(array, prefix + key)
    _check_sums(W.sum(axis=1, dtype=np.float64), prefix + "W",
                "column W[{0}, :, {1}] (state {0}, component {1})")
    _check_sums(A.sum(axis=1, dtype=np.float64), prefix + "A", "row {0}")
    _check_sums(pi.sum(dtype=np.float64, keepdims=True), prefix + "pi", "the distribution")


# --------------------------------------------------------------------------- the models

@dataclass(frozen=True, eq=False, repr=False)
class SourceModel:
    """The trained model of one source: an N-HMM, or plain NMF when it has one state.

    Parameters
    ----------
    name : str
        The source's name (``"voice"``, ``"noise"``); also the stem of the file
        ``livesep separate`` writes, so it may not contain ``/`` or ``\\``.
    W : array-like, shape (n_states, n_bins, n_components), keyword-only
        One dictionary per state; every column ``W[q, :, k]`` sums to 1.
    A : array-like, shape (n_states, n_states), keyword-only
        Transition matrix, ``A[i, j] = P(q_t = j | q_t-1 = i)``; rows sum to 1.
    pi : array-like, shape (n_states,), keyword-only
        Initial state distribution; sums to 1.
    adaptive : bool, keyword-only
        Whether the engine may adapt this source's dictionaries to the input (false:
        fixed, as trained).
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
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            name = _check_source_name(self.name, "name")
            W, A, pi = (_as_float32(getattr(self, key), key) for key in _ARRAYS)
            _check_model_arrays(W, A, pi, prefix="")
            adaptive = _check_bool(self.adaptive, "adaptive")
            provenance = _check_provenance(self.provenance, "provenance")
        except _Invalid as error:
            raise ParameterError(f"source {_show(self.name)}: {error}") from None
        for key, value in (("name", name), ("W", W), ("A", A), ("pi", pi),
                           ("adaptive", adaptive), ("provenance", provenance)):
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
            raise ParameterError(f"source {_show(name)}: an NMF dictionary W must be shaped "
                                 f"(n_bins, n_components), got shape {dictionary.shape}")
        return cls(name, W=dictionary[np.newaxis], A=np.ones((1, 1), np.float32),
                   pi=np.ones(1, np.float32), adaptive=adaptive,
                   provenance=dict(provenance or {}))

    @property
    def n_states(self) -> int:
        """Q, the number of states."""
        return int(self.W.shape[0])

    @property
    def n_bins(self) -> int:
        """F, the number of frequency bins (``n_fft // 2 + 1``)."""
        return int(self.W.shape[1])

    @property
    def n_components(self) -> int:
        """K, the number of dictionary columns per state."""
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
                and self.provenance == other.provenance
                and all(np.array_equal(getattr(self, key), getattr(other, key))
                        for key in _ARRAYS))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SourceModel({self.name!r}, n_states={self.n_states}, "
                f"n_bins={self.n_bins}, n_components={self.n_components}, "
                f"adaptive={self.adaptive})")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _livesep_version() -> str:
    try:
        from livesep import __version__
    except ImportError:  # pragma: no cover - only while the package is half initialised
        return "unknown"
    return str(__version__)


@dataclass(frozen=True, eq=False, repr=False)
class Preset:
    """A set of source models for one analysis setting: what :func:`load` returns.

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
        How the sources were trained; ``"nmf"`` requires one state per source.
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
    livesep_version: str = field(default_factory=_livesep_version)

    def __post_init__(self) -> None:
        try:
            _check_settings(name=self.name, description=self.description, sr=self.sr,
                            n_fft=self.n_fft, hop_length=self.hop_length, window=self.window,
                            model=self.model, created=self.created,
                            livesep_version=self.livesep_version)
            if isinstance(self.sources, (str, bytes, Mapping)) or not isinstance(
                    self.sources, Iterable):
                raise _Invalid(f"sources must be a sequence of SourceModel, "
                               f"got {_show(self.sources)}")
            sources = tuple(self.sources)
            for index, source in enumerate(sources):
                if not isinstance(source, SourceModel):
                    raise _Invalid(f"sources[{index}] must be a SourceModel, "
                                   f"got {_show(source)} ({_type_name(source)})")
            _check_source_list([s.name for s in sources], [s.n_states for s in sources],
                               model=self.model, label="sources[{}]")
            n_bins = self.n_fft // 2 + 1
            for index, source in enumerate(sources):
                if source.n_bins != n_bins:
                    raise _Invalid(f"sources[{index}] ({source.name!r}) has {source.n_bins} "
                                   f"bins but n_fft={self.n_fft} needs {n_bins}")
            total = sum(source.n_parameters for source in sources)
            if total > MAX_ELEMENTS:
                raise _Invalid(f"sources hold {total} numbers, more than the "
                               f"{MAX_ELEMENTS} a preset may hold")
        except _Invalid as error:
            raise ParameterError(f"preset {_show(self.name)}: {error}") from None
        object.__setattr__(self, "sources", sources)
        for key in ("sr", "n_fft", "hop_length"):
            object.__setattr__(self, key, int(getattr(self, key)))
        meta_chars = len(_meta_json(self))
        if meta_chars > MAX_META_CHARS:
            raise ParameterError(f"preset {_show(self.name)}: its metadata (names, "
                                 f"description, provenance) takes {meta_chars} characters "
                                 f"as JSON, more than {MAX_META_CHARS}")

    @property
    def source_names(self) -> tuple[str, ...]:
        """The sources' names, in order."""
        return tuple(source.name for source in self.sources)

    @property
    def n_sources(self) -> int:
        """How many sources the preset separates."""
        return len(self.sources)

    @property
    def n_bins(self) -> int:
        """``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def n_parameters(self) -> int:
        """The numbers held in every W, A and pi together (the preset's total size)."""
        return sum(source.n_parameters for source in self.sources)

    @property
    def nbytes(self) -> int:
        """The bytes the arrays take in memory (float32)."""
        return 4 * self.n_parameters

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
            model=model, sources=chosen, created=_now(), livesep_version=_livesep_version())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Preset):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name)
                   for f in dataclasses.fields(self))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        sources = ", ".join(f"{s.name!r}: {s.n_states}x{s.n_components}" for s in self.sources)
        return (f"Preset({self.name!r}, model={self.model!r}, sr={self.sr}, "
                f"n_fft={self.n_fft}, hop_length={self.hop_length}, sources={{{sources}}})")


_Part = Union[Preset, tuple[Preset, Union[str, Iterable[str]]]]


def combine(*parts: _Part, name: str, description: str | None = None) -> Preset:
    """A new preset made of source models taken from other presets.

    For instance your own voice with the shipped noise model:
    ``combine((mine, "voice"), (shipped, "noise"), name="my voice in noise")``.

    Parameters
    ----------
    *parts : Preset or (Preset, str or iterable of str)
        A whole preset (all its sources), or a preset and the names of the sources to take.
    name : str, keyword-only
        The new preset's name.
    description : str or None, keyword-only
        ``None`` writes where each source came from.

    Returns
    -------
    Preset
        Model ``"nmf"`` if every source has one state, else ``"nhmm"``.

    Raises
    ------
    PresetError
        If the presets differ in sr, n_fft, hop_length or window, or two chosen sources
        share a name (rename one with :meth:`SourceModel.renamed` first).
    ParameterError
        If a part is not a preset, names a source the preset lacks, or ``name`` is invalid.
    """
    if not parts:
        raise ParameterError("combine needs at least one preset")
    reference: Preset | None = None
    chosen: list[SourceModel] = []
    origins: list[str] = []
    for part in parts:
        if isinstance(part, Preset):
            preset, picked = part, list(part.source_names)
        elif (isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], Preset)):
            preset = part[0]
            picked = [part[1]] if isinstance(part[1], str) else list(part[1])
        else:
            raise ParameterError(f"combine takes presets or (preset, source names) pairs, "
                                 f"got {_show(part)}")
        if reference is None:
            reference = preset
        for key in ("sr", "n_fft", "hop_length", "window"):
            if getattr(preset, key) != getattr(reference, key):
                raise PresetError(
                    f"cannot combine preset {preset.name!r} ({key}={getattr(preset, key)!r}) "
                    f"with preset {reference.name!r} ({key}={getattr(reference, key)!r}): "
                    f"{key} must be the same")
        for source_name in picked:
            source = preset.source(source_name)
            for earlier, origin in zip(chosen, origins):
                if earlier.name.casefold() == source.name.casefold():
                    raise PresetError(
                        f"cannot combine source {source.name!r} of preset {preset.name!r} "
                        f"with source {earlier.name!r} of preset {origin!r}: names must "
                        f"differ (rename one with SourceModel.renamed)")
            chosen.append(source)
            origins.append(preset.name)
    assert reference is not None
    if description is None:
        description = "; ".join(f"{source.name} from {origin!r}"
                                for source, origin in zip(chosen, origins))
    model = "nmf" if all(source.n_states == 1 for source in chosen) else "nhmm"
    return Preset(name, description=description, sr=reference.sr, n_fft=reference.n_fft,
                  hop_length=reference.hop_length, window=reference.window, model=model,
                  sources=tuple(chosen))


# --------------------------------------------------------------------------- writing

def _meta_dict(preset: Preset) -> dict[str, Any]:
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
                     "provenance": source.provenance} for source in preset.sources],
    }


def _meta_json(preset: Preset) -> str:
    try:
        return json.dumps(_meta_dict(preset), ensure_ascii=False, allow_nan=False,
                          default=_json_default)
    except (TypeError, ValueError, RecursionError) as error:
        # Only if someone mutated a provenance dict after construction.
        raise ParameterError(f"preset {preset.name!r}: metadata is not JSON: {error}") from None


def _reason(error: BaseException) -> str:
    """A short description of a caught exception for an error message."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = " ".join(str(error).split())
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def save(preset: Preset, path: str | os.PathLike[str]) -> Path:
    """Write a preset atomically: the file appears complete or not at all.

    Parameters
    ----------
    preset : Preset
        What to write.
    path : str or path-like
        Destination (conventionally ``*.npz``); its folder must exist. An existing file is
        replaced only once the new one is completely written.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    PresetError
        If the file cannot be written.
    ParameterError
        If ``preset`` is not a :class:`Preset`.
    """
    if not isinstance(preset, Preset):
        raise ParameterError(f"save needs a Preset, got {_show(preset)}")
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or path-like, got {_show(path)}")
    file = Path(path)
    entries: dict[str, np.ndarray] = {"meta": np.array(_meta_json(preset))}
    for index, source in enumerate(preset.sources):
        for key in _ARRAYS:
            entries[f"source{index}.{key}"] = np.ascontiguousarray(getattr(source, key),
                                                                   dtype=np.float32)
    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, **entries)

    return atomic_write(file, write, error=PresetError)


# --------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class SourceInfo:
    """One source as a preset file's header describes it (no arrays)."""

    name: str
    n_states: int
    n_bins: int
    n_components: int
    adaptive: bool
    provenance: dict[str, Any]

    @property
    def n_parameters(self) -> int:
        """The numbers held in W, A and pi together."""
        return self.n_states * (self.n_bins * self.n_components + self.n_states + 1)

    @property
    def nbytes(self) -> int:
        """The bytes W, A and pi take in memory (float32)."""
        return 4 * self.n_parameters


@dataclass(frozen=True)
class PresetInfo:
    """What :func:`load_meta` reads: a preset file's header, without its arrays."""

    path: Path
    file_size: int
    name: str
    description: str
    sr: int
    n_fft: int
    hop_length: int
    window: str
    model: str
    created: str
    livesep_version: str
    sources: tuple[SourceInfo, ...]

    @property
    def source_names(self) -> tuple[str, ...]:
        """The sources' names, in order."""
        return tuple(source.name for source in self.sources)

    @property
    def n_sources(self) -> int:
        """How many sources the preset separates."""
        return len(self.sources)

    @property
    def n_bins(self) -> int:
        """``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def n_parameters(self) -> int:
        """The numbers held in every W, A and pi together."""
        return sum(source.n_parameters for source in self.sources)

    @property
    def nbytes(self) -> int:
        """The bytes the arrays take in memory once loaded (float32)."""
        return 4 * self.n_parameters


@dataclass(frozen=True)
class _Member:
    """A ``.npy`` member of the archive whose header has been read and checked."""

    key: str
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


def _fail(file: Path, message: str) -> NoReturn:
    raise PresetError(f"{file}: {message}")


def _check_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or path-like, got {_show(path)}")
    file = Path(path)
    if not file.exists():
        _fail(file, "no such file")
    if file.is_dir():
        _fail(file, "is a folder, not a preset file")
    return file


def _read_header(file: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                 key: str) -> _Member:
    """Read and check one member's ``.npy`` header; no array data is read."""
    try:
        with archive.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                _fail(file, f"{key}: unsupported .npy format version {version}")
    except PresetError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure of a corrupt member is ours
        _fail(file, f"{key}: not a readable .npy array, the file is corrupt or truncated "
                    f"({_reason(error)})")
    if dtype.hasobject:
        _fail(file, f"{key}: holds pickled Python objects (dtype {dtype}); livesep never "
                    f"unpickles preset data")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        _fail(file, f"{key}: invalid shape {shape} in its .npy header")
    return _Member(key=key, info=info, shape=tuple(shape), dtype=dtype)


def _read_data(file: Path, archive: zipfile.ZipFile, member: _Member) -> np.ndarray:
    """Read a member whose header was checked; the archive's CRC is verified too."""
    try:
        with archive.open(member.info) as stream:
            array = np.lib.format.read_array(stream, allow_pickle=False)
            trailing = stream.read(1)  # reaching the end also checks the CRC
    except Exception as error:  # noqa: BLE001 - any failure of a corrupt member is ours
        _fail(file, f"{member.key}: cannot read its data, the file is corrupt or truncated "
                    f"({_reason(error)})")
    if trailing:
        _fail(file, f"{member.key}: unexpected bytes after the array data")
    if array.shape != member.shape or array.dtype != member.dtype:  # pragma: no cover
        _fail(file, f"{member.key}: changed while being read")
    return array


def _meta_text(file: Path, array: np.ndarray) -> str:
    """The text of the 0-d unicode ``meta`` array, refusing invalid code points."""
    codes = np.frombuffer(array.astype(array.dtype.newbyteorder("<")).tobytes(), "<u4")
    bad = (codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF))
    if bad.any():
        _fail(file, f"meta holds an invalid character (code point "
                    f"{int(codes[np.argmax(bad)]):#x}); the file is corrupt")
    try:
        return str(array.item())
    except Exception as error:  # noqa: BLE001  # pragma: no cover - checked above
        _fail(file, f"meta: cannot decode its text ({_reason(error)})")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _parse_meta(file: Path, text: str) -> dict[str, Any]:
    """Decode and check the ``meta`` JSON; returns it with optional fields filled in."""
    try:
        meta = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        _fail(file, f"meta: not valid JSON ({error})")
    if not isinstance(meta, dict):
        _fail(file, f"meta must be a JSON object, got {_show(meta)} ({_type_name(meta)})")
    if "format" not in meta:
        _fail(file, "meta: missing field 'format'; not a livesep preset")
    if meta["format"] != FORMAT_NAME:
        _fail(file, f"format is {_show(meta['format'])}, expected {FORMAT_NAME!r}; "
                    f"not a livesep preset")
    if "version" not in meta:
        _fail(file, "meta: missing field 'version'")
    version = meta["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        _fail(file, f"version must be an integer, got {_show(version)} "
                    f"({_type_name(version)})")
    if version != FORMAT_VERSION:
        hint = "; a newer livesep wrote it, upgrade livesep" if version > FORMAT_VERSION else ""
        _fail(file, f"version: the file is {FORMAT_NAME} version {version}, but this livesep "
                    f"({_livesep_version()}) reads version {FORMAT_VERSION} only{hint}")
    missing = [key for key in _PRESET_FIELDS if key not in meta]
    if missing:
        _fail(file, f"meta: missing field(s) {', '.join(map(repr, missing))}")
    extra = sorted(set(meta) - set(_PRESET_FIELDS))
    if extra:
        _fail(file, f"meta: unexpected field(s) {', '.join(map(repr, extra))}")
    try:
        _check_settings(**{key: meta[key] for key in _PRESET_FIELDS
                           if key not in ("format", "version", "sources")})
        sources = meta["sources"]
        if not isinstance(sources, list):
            raise _Invalid(f"sources must be a list, got {_show(sources)} "
                           f"({_type_name(sources)})")
        if not 1 <= len(sources) <= MAX_SOURCES:
            raise _Invalid(f"sources: a preset holds 1 to {MAX_SOURCES} sources, "
                           f"got {len(sources)}")
        checked = []
        for index, entry in enumerate(sources):
            label = f"sources[{index}]"
            if not isinstance(entry, dict):
                raise _Invalid(f"{label} must be a JSON object, got {_show(entry)} "
                               f"({_type_name(entry)})")
            missing = [key for key in _SOURCE_FIELDS if key not in entry]
            if missing:
                raise _Invalid(f"{label}: missing field(s) {', '.join(map(repr, missing))}")
            extra = sorted(set(entry) - set(_SOURCE_FIELDS) - set(_SOURCE_OPTIONAL))
            if extra:
                raise _Invalid(f"{label}: unexpected field(s) {', '.join(map(repr, extra))}")
            checked.append({
                "name": _check_source_name(entry["name"], f"{label}.name"),
                "n_states": _check_int(entry["n_states"], f"{label}.n_states", 1,
                                       MAX_ELEMENTS),
                "n_components": _check_int(entry["n_components"], f"{label}.n_components",
                                           1, MAX_ELEMENTS),
                "adaptive": _check_bool(entry.get("adaptive", False), f"{label}.adaptive"),
                "provenance": _check_provenance(entry.get("provenance", {}),
                                                f"{label}.provenance"),
            })
        _check_source_list([s["name"] for s in checked], [s["n_states"] for s in checked],
                           model=meta["model"], label="sources[{}]")
    except _Invalid as error:
        _fail(file, str(error))
    meta["sources"] = checked
    return meta


def _check_member(file: Path, member: _Member, *, ndim: int, expected: tuple[int, ...],
                  meaning: str) -> int:
    """Check an array header against what meta declares; returns its element count."""
    key, shape, dtype = member.key, member.shape, member.dtype
    if dtype.kind != "f" or dtype.itemsize not in (2, 4, 8) or dtype.fields is not None:
        _fail(file, f"{key}: must hold floating-point numbers (float32), got dtype {dtype}")
    if len(shape) != ndim:
        _fail(file, f"{key}: must have {ndim} dimension(s) {meaning}, got shape {shape}")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        _fail(file, f"{key}: shape {shape} declares {count} numbers, more than the "
                    f"{MAX_ELEMENTS} a preset may hold")
    if shape != expected:
        _fail(file, f"{key}: shape {shape} does not match {meaning} = {expected} "
                    f"declared by meta")
    return count


def _read_container(path: object, *, with_arrays: bool
                    ) -> tuple[Path, dict[str, Any], dict[str, np.ndarray]]:
    """Open a preset file, check its entries, meta and headers, and maybe read its arrays."""
    file = _check_path(path)
    try:
        archive = zipfile.ZipFile(file)
    except Exception as error:  # noqa: BLE001 - any failure to open is a bad file
        _fail(file, f"not a preset file: not a readable .npz (zip) archive, or truncated "
                    f"({_reason(error)})")
    with archive:
        try:
            infos = archive.infolist()
        except Exception as error:  # noqa: BLE001  # pragma: no cover
            _fail(file, f"corrupt zip directory ({_reason(error)})")
        if len(infos) > 1 + len(_ARRAYS) * MAX_SOURCES:
            _fail(file, f"holds {len(infos)} entries, more than a preset of {MAX_SOURCES} "
                        f"sources can have")
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            key = name[:-4] if name.endswith(".npy") else name
            if not name.endswith(".npy") or not (key == "meta" or _ARRAY_KEY.fullmatch(key)):
                _fail(file, f"unexpected entry {_show(name)}; a preset holds only 'meta' "
                            f"and 'source<i>.W', 'source<i>.A', 'source<i>.pi'")
            if key in members:
                _fail(file, f"entry {_show(name)} appears twice")
            members[key] = info
        if "meta" not in members:
            _fail(file, "missing entry 'meta' (the JSON header); not a livesep preset")
        header = _read_header(file, archive, members["meta"], "meta")
        if header.dtype.kind != "U" or header.shape != ():
            _fail(file, f"meta must be a 0-d unicode array holding JSON text, got dtype "
                        f"{header.dtype} and shape {header.shape}")
        if header.dtype.itemsize // 4 > MAX_META_CHARS:
            _fail(file, f"meta declares {header.dtype.itemsize // 4} characters, more than "
                        f"the {MAX_META_CHARS} a preset may hold")
        meta = _parse_meta(file, _meta_text(file, _read_data(file, archive, header)))

        sources = meta["sources"]
        expected = {f"source{i}.{key}" for i in range(len(sources)) for key in _ARRAYS}
        for key in sorted(set(members) - {"meta"} - expected):
            index = int(_ARRAY_KEY.fullmatch(key)[1])  # type: ignore[index]
            _fail(file, f"{key}: the file holds arrays for source {index}, but meta lists "
                        f"{len(sources)} source(s)")
        missing = sorted(expected - set(members))
        if missing:
            _fail(file, f"missing array {missing[0]!r} (meta lists {len(sources)} "
                        f"source(s))")

        n_bins = meta["n_fft"] // 2 + 1
        headers: dict[str, _Member] = {}
        total = 0
        for index, source in enumerate(sources):
            q, k = source["n_states"], source["n_components"]
            declared = (f"(n_states, n_fft // 2 + 1, n_components) of sources[{index}]",
                        f"(n_states, n_states) of sources[{index}]",
                        f"(n_states,) of sources[{index}]")
            for key, ndim, shape, meaning in zip(_ARRAYS, (3, 2, 1), ((q, n_bins, k), (q, q),
                                                                      (q,)), declared):
                name = f"source{index}.{key}"
                headers[name] = _read_header(file, archive, members[name], name)
                total += _check_member(file, headers[name], ndim=ndim, expected=shape,
                                       meaning=meaning)
                if total > MAX_ELEMENTS:
                    _fail(file, f"{name}: the arrays declare {total} numbers so far, more "
                                f"than the {MAX_ELEMENTS} a preset may hold")
        arrays: dict[str, np.ndarray] = {}
        if with_arrays:
            for name, member in headers.items():
                arrays[name] = _read_data(file, archive, member)
    return file, meta, arrays


def load_meta(path: str | os.PathLike[str]) -> PresetInfo:
    """Read a preset file's header cheaply, for a list of presets.

    The meta JSON and every ``.npy`` header are checked as :func:`load` checks them, but
    no array data is read, so values (finite, non-negative, sums) are checked only by
    :func:`load`.

    Parameters
    ----------
    path : str or path-like
        The preset file.

    Returns
    -------
    PresetInfo

    Raises
    ------
    PresetError
        If the file is missing, not a preset, from another format version, or its header
        or array headers are invalid or inconsistent.
    """
    file, meta, _ = _read_container(path, with_arrays=False)
    n_bins = meta["n_fft"] // 2 + 1
    try:
        size = file.stat().st_size
    except OSError as error:  # pragma: no cover - removed while being read
        _fail(file, f"cannot read ({_reason(error)})")
    return PresetInfo(
        path=file, file_size=size, name=meta["name"], description=meta["description"],
        sr=meta["sr"], n_fft=meta["n_fft"], hop_length=meta["hop_length"],
        window=meta["window"], model=meta["model"], created=meta["created"],
        livesep_version=meta["livesep_version"],
        sources=tuple(SourceInfo(name=s["name"], n_states=s["n_states"], n_bins=n_bins,
                                 n_components=s["n_components"], adaptive=s["adaptive"],
                                 provenance=s["provenance"]) for s in meta["sources"]))


def load(path: str | os.PathLike[str]) -> Preset:
    """Read and fully check a preset file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save` (format ``livesep-preset`` version 1).

    Returns
    -------
    Preset
        Arrays as read-only float32; W ``(Q, F, K)``, A ``(Q, Q)``, pi ``(Q,)`` per source.

    Raises
    ------
    PresetError
        Naming the file, the field and the value, if the file is missing, not a zip or
        truncated, holds pickled objects, lacks ``meta`` or has bad JSON, is of another
        format or version, has missing, extra or mistyped fields or entries, non-float,
        non-finite or negative arrays, columns of W / rows of A / pi not summing to 1,
        shapes inconsistent with each other, with n_fft or with meta, invalid
        sr / n_fft / hop_length, oversized arrays, duplicate source names, or 0 or more
        than 16 sources.
    """
    file, meta, arrays = _read_container(path, with_arrays=True)
    sources = []
    for index, entry in enumerate(meta["sources"]):
        prefix = f"source{index}."
        try:
            W, A, pi = (_as_float32(arrays[prefix + key], prefix + key) for key in _ARRAYS)
            _check_model_arrays(W, A, pi, prefix=prefix)
        except _Invalid as error:
            _fail(file, str(error))
        try:
            sources.append(SourceModel(entry["name"], W=W, A=A, pi=pi,
                                       adaptive=entry["adaptive"],
                                       provenance=entry["provenance"]))
        except ParameterError as error:  # pragma: no cover - checked above
            _fail(file, f"sources[{index}]: {error}")
    try:
        return Preset(meta["name"], description=meta["description"], sr=meta["sr"],
                      n_fft=meta["n_fft"], hop_length=meta["hop_length"],
                      window=meta["window"], model=meta["model"], sources=tuple(sources),
                      created=meta["created"], livesep_version=meta["livesep_version"])
    except ParameterError as error:  # pragma: no cover - checked above
        _fail(file, str(error))


# --------------------------------------------------------------------------- describing

def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError  # pragma: no cover


def _summary(value: Any, width: int = 72, depth: int = 0) -> str:
    """A one-line digest of a provenance value."""
    if isinstance(value, (list, dict)) and depth >= 2:
        text = "[...]" if isinstance(value, list) else "{...}"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, list):
        items = ", ".join(_summary(item, 30, depth + 1) for item in value[:3])
        more = ", ..." if len(value) > 3 else ""
        text = f"{len(value)} item{'s' if len(value) != 1 else ''}" + (
            f": {items}{more}" if value else "")
    elif isinstance(value, dict):
        text = ", ".join(f"{key}={_summary(item, 30, depth + 1)}"
                         for key, item in list(value.items())[:8])
    else:
        text = str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def describe(preset: Preset | PresetInfo | str | os.PathLike[str]) -> str:
    """A human-readable summary of a preset.

    Parameters
    ----------
    preset : Preset, PresetInfo, or str or path-like
        A preset, a :func:`load_meta` result, or a preset file (loaded and fully checked).

    Returns
    -------
    str
        Several lines: name, description, model and analysis settings, then per source
        its states × components, size, whether adaptive, and its training provenance;
        with the file and its size when there is one.

    Raises
    ------
    PresetError
        If a file is given and cannot be loaded.
    """
    file_line = None
    if isinstance(preset, (str, os.PathLike)):
        loaded = load(preset)
        file = Path(preset)
        file_line = f"  file: {file} ({_human_bytes(file.stat().st_size)})"
        preset = loaded
    elif isinstance(preset, PresetInfo):
        file_line = f"  file: {preset.path} ({_human_bytes(preset.file_size)})"
    elif not isinstance(preset, Preset):
        raise ParameterError(f"describe needs a Preset, a PresetInfo or a path, "
                             f"got {_show(preset)}")
    lines = [f"Preset {preset.name!r}"]
    if preset.description:
        lines.append(f"  {preset.description}")
    if file_line:
        lines.append(file_line)
    lines.append(f"  model {preset.model}, sr {preset.sr} Hz, n_fft {preset.n_fft} "
                 f"({1000 * preset.n_fft / preset.sr:.1f} ms), hop {preset.hop_length} "
                 f"({1000 * preset.hop_length / preset.sr:.1f} ms), window {preset.window}, "
                 f"{preset.n_bins} bins")
    lines.append(f"  created {preset.created} by livesep {preset.livesep_version}")
    lines.append(f"  {preset.n_sources} source{'s' if preset.n_sources != 1 else ''}, "
                 f"{preset.n_parameters} parameters ({_human_bytes(preset.nbytes)} as float32)")
    for source in preset.sources:
        states = f"{source.n_states} state{'s' if source.n_states != 1 else ''}"
        lines.append(f"  - {source.name}: {states} x {source.n_components} components, "
                     f"{source.n_parameters} parameters ({_human_bytes(source.nbytes)}), "
                     f"{'adaptive' if source.adaptive else 'fixed'}")
        if source.provenance:
            lines.append("      training:")
            lines.extend(f"        {key}: {_summary(value)}"
                         for key, value in source.provenance.items())
        else:
            lines.append("      training: no provenance recorded")
    return "\n".join(lines)
