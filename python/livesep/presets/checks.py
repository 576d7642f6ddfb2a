"""Validation of a preset's fields and arrays, shared by the preset classes and the reader.

Every check raises :class:`Invalid` with a message naming the field and the value; the
callers add the source, the preset or the file and raise the public error.
"""

from __future__ import annotations

import datetime
import json
import os
import unicodedata
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.checks import check_float, check_int, show, type_name
from livesep.errors import ParameterError
from livesep.presets.format import (
    FORMAT_VERSIONS,
    MAX_ELEMENTS,
    MAX_FLOOR_WEIGHT,
    MAX_FRAMES,
    MAX_LAYERS,
    MAX_NAME_CHARS,
    MAX_SOURCES,
    MAX_SR,
    MIN_SR,
    MODELS,
    SOURCE_FIELDS,
    SOURCE_OPTIONAL,
    SUM_TOLERANCE,
    WINDOW,
)
from livesep.spectral import check_stft_settings

__all__ = [
    "Invalid",
    "as_float32",
    "check_bool",
    "check_companion_entry",
    "check_frames",
    "check_label",
    "check_layers",
    "check_floor",
    "check_model_arrays",
    "check_provenance",
    "check_settings",
    "check_source_entry",
    "check_source_list",
    "check_source_name",
    "check_str",
    "check_sums",
    "check_values",
    "json_default",
]


class Invalid(Exception):
    """A validation failure; its message names the field and the value, not the file."""


# --------------------------------------------------------------------------- field checks

def check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string, got {show(value)} ({type_name(value)})")
    return value


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise Invalid(f"{name} must be true or false, got {show(value)} ({type_name(value)})")
    return bool(value)


def check_label(name: str, value: object) -> str:
    """A preset name: non-empty, bounded, no control characters."""
    text = check_str(name, value)
    if not text.strip() or len(text) > MAX_NAME_CHARS:
        raise Invalid(f"{name} must be 1 to {MAX_NAME_CHARS} characters and not blank, "
                      f"got {show(text)}")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        raise Invalid(f"{name} must not hold control characters, got {show(text)}")
    return text


def check_source_name(name: str, value: object) -> str:
    """A source name; also the stem of the file ``separate`` writes, so no path tricks."""
    text = check_label(name, value)
    if text != text.strip() or text in (".", "..") or "/" in text or "\\" in text:
        raise Invalid(f"{name} must not contain '/' or '\\', be '.' or '..', or start or end "
                      f"with whitespace, got {show(text)}")
    return text


def json_default(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def check_provenance(name: str, value: object) -> dict[str, Any]:
    """A free-form JSON object; returns a detached copy made of plain JSON types."""
    if not isinstance(value, Mapping):
        raise Invalid(f"{name} must be a JSON object (dict), got {show(value)} "
                      f"({type_name(value)})")
    if not all(isinstance(key, str) for key in value):
        raise Invalid(f"{name} keys must be strings, got {show(list(value))}")
    try:
        text = json.dumps(dict(value), allow_nan=False, default=json_default)
        return dict(json.loads(text))
    except (TypeError, ValueError, RecursionError) as error:
        raise Invalid(f"{name} must hold only JSON values (finite numbers, strings, lists, "
                      f"dicts with string keys): {error}") from None


def check_settings(*, name: object, description: object, sr: object, n_fft: object,
                   hop_length: object, window: object, model: object, created: object,
                   livesep_version: object) -> None:
    """Check a preset's scalar fields; raise :class:`Invalid` naming the first bad one."""
    check_label("name", name)
    check_str("description", description)
    check_int("sr", sr, low=MIN_SR, high=MAX_SR, error=Invalid)
    check_int("n_fft", n_fft, low=16, high=65536, error=Invalid)
    check_int("hop_length", hop_length, low=1, high=65536, error=Invalid)
    try:
        check_stft_settings(n_fft, hop_length)  # type: ignore[arg-type]
    except ParameterError as error:
        raise Invalid(str(error)) from None
    if window != WINDOW:
        raise Invalid(f"window must be {WINDOW!r}, got {show(window)}")
    if model not in MODELS:
        raise Invalid(f"model must be one of {', '.join(map(repr, MODELS))}, "
                      f"got {show(model)}")
    check_str("created", created)
    try:
        datetime.datetime.fromisoformat(created)  # type: ignore[arg-type]
    except ValueError:
        raise Invalid(f"created must be an ISO 8601 date or date-time, "
                      f"got {show(created)}") from None
    version = check_str("livesep_version", livesep_version)
    if not version.strip() or len(version) > MAX_NAME_CHARS:
        raise Invalid(f"livesep_version must be 1 to {MAX_NAME_CHARS} characters, "
                      f"got {show(version)}")


def check_source_list(names: list[str], states: list[int], layers: list[int], *,
                      model: str, label: str) -> None:
    """Count, unique names (ignoring case) and model consistency of a preset's sources: all
    of them unfolded, with the same layers and model ``"nmf"``, or none."""
    if not 1 <= len(names) <= MAX_SOURCES:
        raise Invalid(f"sources: a preset holds 1 to {MAX_SOURCES} sources, got {len(names)}")
    seen: dict[str, int] = {}
    for index, source_name in enumerate(names):
        key = source_name.casefold()
        if key in seen:
            raise Invalid(f"{label.format(index)}.name {source_name!r} duplicates "
                          f"{label.format(seen[key])}.name {names[seen[key]]!r} "
                          f"(source names must differ, ignoring case)")
        seen[key] = index
    if model in ("nmf", "nae"):
        for index, n_states in enumerate(states):
            if n_states != 1:
                raise Invalid(f"{label.format(index)} has {n_states} states but model "
                              f"{model!r} has one state per source (use model 'nhmm')")
    if any(layers):
        for index, count in enumerate(layers):
            if count != layers[0]:
                raise Invalid(f"{label.format(index)}.layers is {count} but "
                              f"{label.format(0)}.layers is {layers[0]}: unfolded sources are "
                              f"trained together, so a preset's sources are all unfolded "
                              f"with the same layers, or none is")
        if model != "nmf":
            raise Invalid(f"model is {model!r} but the sources are unfolded (layers "
                          f"{layers[0]}), which model 'nmf' describes")


def check_companion_entry(value: object, *, version: int, nested: bool
                          ) -> tuple[float, object] | None:
    """``meta["companion"]`` (absent: None): ``(share, the companion's meta)``, in version 6
    files and not inside a companion; the companion's meta is checked by the reader."""
    if value is None:
        return None
    if nested:
        raise Invalid("companion: a companion has no companion of its own")
    if version < FORMAT_VERSIONS[5]:
        raise Invalid(f"companion is not a field of version {version} files: companions "
                      f"came with version {FORMAT_VERSIONS[5]}")
    if not isinstance(value, dict) or set(value) != {"share", "preset"}:
        raise Invalid(f"companion must be a JSON object with the fields 'share' and 'preset', "
                      f"got {show(value)}")
    share = value["share"]
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise Invalid(f"companion.share must be a number in (0, 1), got {show(share)}")
    return float(share), value["preset"]


def check_fit_entries(meta: dict[str, Any], *, version: int) -> dict[str, Any]:
    """``meta``'s ``fit_bins`` and ``fit_bands_above`` (absent: None) in a file of format
    ``version``: fields of versions 5 and 7 on, an integer and a number; the preset checks
    the rest (:func:`check_fit_bins`, :func:`check_fit_bands_above`)."""
    bins, above = meta.get("fit_bins"), meta.get("fit_bands_above")
    if bins is not None and version < FORMAT_VERSIONS[4]:
        raise Invalid(f"fit_bins ({show(bins)}) is not a field of version {version} files: "
                      f"fits on the lower bins came with version {FORMAT_VERSIONS[4]}")
    if above is not None and version < FORMAT_VERSIONS[6]:
        raise Invalid(f"fit_bands_above ({show(above)}) is not a field of version {version} "
                      f"files: fits on bands came with version {FORMAT_VERSIONS[6]}")
    if above is not None and (isinstance(above, bool) or not isinstance(above, (int, float))):
        raise Invalid(f"fit_bands_above must be a number of Hz, got {show(above)}")
    return {"fit_bins": None if bins is None else check_int(
                "fit_bins", bins, low=2, high=MAX_ELEMENTS, error=Invalid),
            "fit_bands_above": None if above is None else float(above)}


def check_fit_bins(value: object, *, n_bins: int, plain: bool) -> int | None:
    """A preset's ``fit_bins``: None (every bin, or an unfolded preset's own), or the 2 to
    ``n_bins - 1`` lowest bins, which the activations are fitted on while the estimates
    cover every bin. Only for ``plain`` sources (no layers, frames, adaptation or encoder),
    whose dictionaries serve both."""
    if value is None:
        return None
    bins = check_int("fit_bins", value, low=2, high=n_bins - 1, error=Invalid)
    if not plain:
        raise Invalid(f"fit_bins ({bins}) needs sources without layers, frames or adaptation, "
                      f"and no encoder")
    return bins


def check_fit_bands_above(value: object, *, sr: int, banded: bool,
                          fit_bins: int | None) -> float | None:
    """A preset's ``fit_bands_above``: None, or a frequency in (0, sr / 2) Hz above which the
    activations are fitted on 1/12-octave bands; for sources that can be fitted on bands
    (``banded``: no encoder, adaptation or frames), without ``fit_bins``."""
    if value is None:
        return None
    above = check_float("fit_bands_above", value, low=0.0, low_open=True, error=Invalid)
    if above >= sr / 2.0:
        raise Invalid(f"fit_bands_above must be below the Nyquist frequency {sr / 2:g} Hz, "
                      f"got {show(value)}")
    if not banded:
        raise Invalid(f"fit_bands_above ({above:g}) needs sources without frames or adaptation, "
                      f"and no encoder")
    if fit_bins is not None:
        raise Invalid(f"fit_bands_above ({above:g}) and fit_bins ({fit_bins}) exclude each "
                      f"other: give one")
    return above


def check_source_entry(label: str, entry: object, *, version: int) -> dict[str, Any]:
    """One source's entry of ``meta["sources"]`` in a file of format ``version``: its fields
    checked, the optional ones filled in."""
    if not isinstance(entry, dict):
        raise Invalid(f"{label} must be a JSON object, got {show(entry)} ({type_name(entry)})")
    missing = [key for key in SOURCE_FIELDS if key not in entry]
    if missing:
        raise Invalid(f"{label}: missing field(s) {', '.join(map(repr, missing))}")
    extra = sorted(set(entry) - set(SOURCE_FIELDS) - set(SOURCE_OPTIONAL))
    if extra:
        raise Invalid(f"{label}: unexpected field(s) {', '.join(map(repr, extra))}")
    if "floor" in entry and version < FORMAT_VERSIONS[3]:
        raise Invalid(f"{label}.floor ({show(entry['floor'])}) is not a field of version "
                      f"{version} files: noise floors came with version {FORMAT_VERSIONS[3]}")
    if "layers" in entry and version < FORMAT_VERSIONS[1]:
        raise Invalid(f"{label}.layers ({show(entry['layers'])}) is not a field of version "
                      f"{version} files: unfolded sources came with version "
                      f"{FORMAT_VERSIONS[1]}")
    name = check_source_name(f"{label}.name", entry["name"])
    n_states = check_int(f"{label}.n_states", entry["n_states"], low=1, high=MAX_ELEMENTS,
                         error=Invalid)
    n_components = check_int(f"{label}.n_components", entry["n_components"], low=1,
                             high=MAX_ELEMENTS, error=Invalid)
    adaptive = check_bool(f"{label}.adaptive", entry.get("adaptive", False))
    frames = check_frames(f"{label}.frames", entry.get("frames", 1), n_states=n_states,
                          adaptive=adaptive)
    layers = check_layers(f"{label}.layers", entry.get("layers", 0), frames=frames,
                          adaptive=adaptive, n_states=n_states)
    floor = check_floor(f"{label}.floor", entry.get("floor", 0.0), frames=frames,
                        adaptive=adaptive)
    if "floor" in entry and floor == 0.0:
        raise Invalid(f"{label}.floor is 0: a source without a floor leaves the field out")
    return {"name": name, "n_states": n_states, "n_components": n_components,
            "adaptive": adaptive, "frames": frames, "layers": layers, "floor": floor,
            "provenance": check_provenance(f"{label}.provenance", entry.get("provenance", {}))}


# --------------------------------------------------------------------------- array checks

def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def as_float32(name: str, value: object) -> npt.NDArray[np.float32]:
    """A detached, read-only, C-contiguous float32 copy of real-valued array data."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise Invalid(f"{name} must be an array of real numbers: {error}") from None
    if array.dtype.kind not in "fiu":
        raise Invalid(f"{name} must hold real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.array(array, dtype=np.float32, order="C", copy=True)
    out.flags.writeable = False
    return out


def check_values(array: npt.NDArray[np.float32], name: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        where = _index(int(np.argmax(bad)), array.shape)
        raise Invalid(f"{name} holds a non-finite value ({array[where]}) at index {where}")
    negative = array < 0
    if negative.any():
        where = _index(int(np.argmax(negative)), array.shape)
        raise Invalid(f"{name} holds a negative value ({array[where]:.6g}) at index {where}")


def check_sums(sums: npt.NDArray[np.float64], name: str, what: str) -> None:
    error = np.abs(sums - 1.0)
    if error.size and float(error.max()) > SUM_TOLERANCE:
        worst = _index(int(np.argmax(error)), sums.shape)
        raise Invalid(f"{name}: {what.format(*worst)} sums to {float(sums[worst]):.6g}, "
                      f"not 1 (tolerance {SUM_TOLERANCE:g})")


def check_frames(name: str, value: object, *, n_states: int, adaptive: bool) -> int:
    """A source's ``frames``: 1, or the time lags of a convolutive (NMFD) source's templates,
    which then has one state and a fixed dictionary."""
    frames = check_int(name, value, low=1, high=MAX_FRAMES, error=Invalid)
    if frames > 1 and n_states != 1:
        raise Invalid(f"{name} is {frames} but the source has {n_states} states; a "
                      f"convolutive source (frames > 1) has one state")
    if frames > 1 and adaptive:
        raise Invalid(f"{name} is {frames} but the source is adaptive; only a source of one "
                      f"frame can adapt its dictionary")
    return frames


def check_layers(name: str, value: object, *, frames: int, adaptive: bool,
                 n_states: int = 1) -> int:
    """A source's ``layers``: 0, or the updates of an unfolded (deep NMF) source, which then
    has one state (``n_states``, as the file's meta declares it; the arrays' shapes are
    :func:`check_model_arrays`' to check), one frame and a fixed dictionary."""
    layers = check_int(name, value, low=0, high=MAX_LAYERS, error=Invalid)
    if layers > 0 and n_states != 1:
        raise Invalid(f"{name} is {layers} but the source has {n_states} states; an unfolded "
                      f"source (layers > 0) has one state")
    if layers > 0 and frames > 1:
        raise Invalid(f"{name} is {layers} but the source's templates span {frames} frames; "
                      f"an unfolded source (layers > 0) has one frame")
    if layers > 0 and adaptive:
        raise Invalid(f"{name} is {layers} but the source is adaptive; an unfolded source's "
                      f"dictionaries are fixed, as trained")
    return layers


def check_floor(name: str, value: object, *, frames: int, adaptive: bool) -> float:
    """A source's ``floor``: 0 (none), or the weight of the noise floor column the engine
    gives it (a source of one frame that does not adapt)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise Invalid(f"{name} must be a number, got {show(value)} ({type_name(value)})")
    floor = float(value)
    if not 0.0 <= floor <= MAX_FLOOR_WEIGHT:
        raise Invalid(f"{name} must be in [0, {MAX_FLOOR_WEIGHT:g}], got {show(value)}")
    if floor > 0.0 and (frames > 1 or adaptive):
        raise Invalid(f"{name} is {floor:g} but the source "
                      f"{'spans frames' if frames > 1 else 'adapts'}; a noise floor is for a "
                      f"source of one frame that does not adapt")
    return floor


def check_model_arrays(W: npt.NDArray[np.float32], A: npt.NDArray[np.float32],
                       pi: npt.NDArray[np.float32], *, prefix: str, frames: int = 1,
                       layers: int = 0) -> None:
    """Shapes and values of one source's arrays; ``prefix`` goes before W, A and pi.

    With ``frames > 1`` (a convolutive source) ``W`` holds one block per time lag and the
    source has one state; each template ``W[:, :, k]`` sums to 1 over lags and bins together.
    With ``layers > 0`` (an unfolded source) ``W`` holds ``layers + 1`` blocks, one per
    layer, and the source has one state; each column of each layer's block sums to 1. The
    last block makes the source's estimate from the fitted activations, so its columns keep
    the scale they were trained with (a full-band estimate from a fit on fewer bins).
    """
    layout = "layers + 1" if layers else "frames" if frames > 1 else "n_states"
    if W.ndim != 3 or min(W.shape, default=0) < 1:
        raise Invalid(f"{prefix}W must be shaped ({layout}, n_bins, n_components) with "
                      f"every size at least 1, got shape {W.shape}")
    if layers and W.shape[0] != layers + 1:
        raise Invalid(f"{prefix}W must be shaped (layers + 1, n_bins, n_components) with "
                      f"layers = {layers} for an unfolded source, got shape {W.shape}")
    if frames > 1 and W.shape[0] != frames:
        raise Invalid(f"{prefix}W must be shaped (frames, n_bins, n_components) with "
                      f"frames = {frames} for a convolutive source, got shape {W.shape}")
    kind = "an unfolded" if layers else "a convolutive" if frames > 1 else ""
    n_states = 1 if kind else W.shape[0]
    states = f"{kind} source's one state" if kind else f"{n_states} state(s)"
    if A.shape != (n_states, n_states):
        raise Invalid(f"{prefix}A must be shaped ({n_states}, {n_states}) for {states} "
                      f"(W has shape {W.shape}), got shape {A.shape}")
    if pi.shape != (n_states,):
        raise Invalid(f"{prefix}pi must be shaped ({n_states},) for {states} "
                      f"(W has shape {W.shape}), got shape {pi.shape}")
    for key, array in (("W", W), ("A", A), ("pi", pi)):
        check_values(array, prefix + key)
    if frames > 1:
        check_sums(W.sum(axis=(0, 1), dtype=np.float64), prefix + "W",
                   "template W[:, :, {0}] (component {0}, over lags and bins)")
    else:
        block = "layer" if layers else "state"
        check_sums(W[:layers or None].sum(axis=1, dtype=np.float64), prefix + "W",
                   f"column W[{{0}}, :, {{1}}] ({block} {{0}}, component {{1}})")
    check_sums(A.sum(axis=1, dtype=np.float64), prefix + "A", "row {0}")
    check_sums(pi.sum(dtype=np.float64, keepdims=True), prefix + "pi", "the distribution")
