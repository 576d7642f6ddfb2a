"""A human-readable summary of a preset, its sources and their training provenance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from livesep.checks import show
from livesep.errors import ParameterError
from livesep.presets.info import PresetInfo
from livesep.presets.reader import load
from livesep.presets.types import Preset

__all__ = ["describe"]


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
    lines.append(f"  created {preset.created} by livesep {preset.livesep_version}")
    lines.append(f"  {preset.n_sources} source{'s' if preset.n_sources != 1 else ''}, "
                 f"{preset.n_parameters} parameters ({_human_bytes(preset.nbytes)} as float32)")
    encoder = getattr(preset, "encoder", None)
    if encoder is not None:
        lines.append(f"  recurrent encoder: {encoder.n_layers} GRU layer"
                     f"{'s' if encoder.n_layers != 1 else ''} of {encoder.n_hidden} units, "
                     f"{encoder.n_parameters} parameters; the sources are its decoder")
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
