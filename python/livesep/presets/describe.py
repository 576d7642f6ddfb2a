"""What a preset file holds: its header, read cheaply (:func:`load_meta`), and a
human-readable summary of the preset, its sources and their training provenance
(:func:`describe`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from livesep.checks import show
from livesep.errors import ParameterError
from livesep.presets.info import PresetInfo, SourceInfo
from livesep.presets.reader import fail, load, read_container, reason
from livesep.presets.types import Preset

__all__ = ["describe", "load_meta"]


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
    file, meta, _ = read_container(path, with_arrays=False)
    n_bins = meta["n_fft"] // 2 + 1
    try:
        size = file.stat().st_size
    except OSError as error:  # pragma: no cover - removed while being read
        fail(file, f"cannot read ({reason(error)})")
    return PresetInfo(
        path=file, file_size=size, name=meta["name"], description=meta["description"],
        sr=meta["sr"], n_fft=meta["n_fft"], hop_length=meta["hop_length"],
        window=meta["window"], model=meta["model"], created=meta["created"],
        livesep_version=meta["livesep_version"],
        sources=tuple(SourceInfo(name=s["name"], n_states=s["n_states"], n_bins=n_bins,
                                 n_components=s["n_components"], adaptive=s["adaptive"],
                                 provenance=s["provenance"], frames=s["frames"],
                                 layers=s["layers"], floor=s["floor"])
                      for s in meta["sources"]))


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
        A preset, a :func:`~livesep.presets.load_meta` result, or a preset file (loaded and
        fully checked).

    Returns
    -------
    str
        Several lines: name, description, model and analysis settings, then per source
        its states × components ("convolutive, τ frames" × components for a convolutive
        source, "unfolded, L layers" × components for an unfolded one), size, whether
        adaptive, and its training provenance;
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
                             f"got {show(preset)}")
    lines = [f"Preset {preset.name!r}"]
    if preset.description:
        lines.append(f"  {preset.description}")
    if file_line:
        lines.append(file_line)
    lines.append(f"  model {preset.model}, sr {preset.sr} Hz, n_fft {preset.n_fft} "
                 f"({1000 * preset.n_fft / preset.sr:.1f} ms), hop {preset.hop_length} "
                 f"({1000 * preset.hop_length / preset.sr:.1f} ms), window {preset.window}, "
                 f"{preset.n_bins} bins")
    if isinstance(preset, Preset) and preset.fitted_bins < preset.n_bins:
        bins = preset.fitted_bins
        top = (bins - 1) * preset.sr / preset.n_fft
        lines.append(f"  fitted on the {bins} bins up to {top:g} Hz; its estimates cover all "
                     f"{preset.n_bins}")
    if isinstance(preset, Preset) and preset.fit_bands_above is not None:
        lines.append(f"  fitted bin by bin up to {preset.fit_bands_above:g} Hz and on 1/12-octave "
                     f"bands above; its estimates cover every bin")
    lines.append(f"  created {preset.created} by livesep {preset.livesep_version}")
    lines.append(f"  {preset.n_sources} source{'s' if preset.n_sources != 1 else ''}, "
                 f"{preset.n_parameters} parameters ({_human_bytes(preset.nbytes)} as float32)")
    encoder = getattr(preset, "encoder", None)
    if encoder is not None:
        lines.append(f"  recurrent encoder: {encoder.n_layers} GRU layer"
                     f"{'s' if encoder.n_layers != 1 else ''} of {encoder.n_hidden} units, "
                     f"{encoder.n_parameters} parameters; the sources are its decoder")
    companion = getattr(preset, "companion", None)
    if companion is not None:
        lines.append(f"  companion {companion.name!r} (model {companion.model}, "
                     f"{companion.n_parameters} parameters) run beside it: "
                     f"{100 * preset.companion_share:g} % of the masks"
                     + (f" up to {companion.sr / 2:g} Hz (its {companion.sr} Hz band)"
                        if companion.sr < preset.sr else ""))
    for source in preset.sources:
        states = f"{source.n_states} state{'s' if source.n_states != 1 else ''}"
        if source.frames > 1:
            states = f"convolutive, {source.frames} frames"
        if source.layers:
            states = f"unfolded, {source.layers} layers"
        lines.append(f"  - {source.name}: {states} x {source.n_components} components, "
                     f"{source.n_parameters} parameters ({_human_bytes(source.nbytes)}), "
                     f"{'adaptive' if source.adaptive else 'fixed'}"
                     + (f", + a noise floor tracked from the stream (weight {source.floor:g})"
                        if source.floor else ""))
        if source.provenance:
            lines.append("      training:")
            lines.extend(f"        {key}: {_summary(value)}"
                         for key, value in source.provenance.items())
        else:
            lines.append("      training: no provenance recorded")
    return "\n".join(lines)
