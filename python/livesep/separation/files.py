"""Separating an audio file into stem files (what ``livesep separate`` runs)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livesep import audio
from livesep.checks import check_float
from livesep.engine import EngineSettings
from livesep.errors import AudioFileError, ParameterError
from livesep.files import check_new_files, check_output_folder
from livesep.presets import Preset
from livesep.separation.offline import separate_offline
from livesep.separation.online import separate_online
from livesep.separation.signals import at_strength, separate_at_rate
from livesep.separation.states import stems_and_states

__all__ = ["SeparationReport", "separate_file", "write_stems", "MODES"]

MODES = ("online", "offline")


@dataclass(frozen=True)
class SeparationReport:
    """What :func:`separate_file` did."""

    stems: tuple[Path, ...]
    sr: int
    channels_mixed_down: int
    resampled_from: int | None
    seconds: float


def separate_file(mixture: str | os.PathLike[str], preset: Preset, out_dir: str | os.PathLike[str],
                  *, mode: str = "online", settings: EngineSettings | None = None,
                  block_size: int = 512, strength: float = 1.0, overwrite: bool = False,
                  per_state: bool = False,
                  state_gains: Mapping[str, Mapping[int, float]] | None = None,
                  progress: Callable[[float], None] | None = None) -> SeparationReport:
    """Separate an audio file into ``out_dir/<source>.wav``, one file per source.

    The stems have the input's rate and length and line up with it sample for sample.
    A multi-channel input is mixed down; another rate than the preset's is resampled for the
    engine and back, online exactly as a live stream at the file's rate would be
    (:func:`~livesep.separation.online.separate_online`). Stems are written to a temporary
    folder and moved into place only once all exist, so ``out_dir`` never holds a
    half-written set.

    Parameters
    ----------
    mixture : path-like
        The input file.
    preset : Preset
        The trained sources.
    out_dir : path-like
        Created if missing.
    mode : {"online", "offline"}, keyword-only
        ``online`` runs the causal engine block by block exactly as live; ``offline`` the
        batch reference (:func:`livesep.separation.offline.separate_offline`).
    settings : EngineSettings, optional
        Inference settings.
    block_size : int, keyword-only
        Engine block size for online mode.
    strength : float, keyword-only
        How far the separation goes, 0 to 1: at 0 the first stem is the input and the
        others are silent (see ``Separator.set_strength``).
    overwrite : bool, keyword-only
        Replace stems that already exist in ``out_dir``.
    per_state : bool, keyword-only
        Also write each state's signal, ``out_dir/<source>.state<q>.wav`` (offline only).
    state_gains : mapping, keyword-only
        Per source name, a gain per state, ``{"piano": {1: 0.0}}`` (offline only; see
        :mod:`livesep.separation.states`).
    progress : callable, optional
        Called with the fraction done.

    Returns
    -------
    SeparationReport

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from livesep import audio, load_preset, separate_file
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> noise = np.random.default_rng(0).normal(scale=0.1, size=16000).astype(np.float32)
    >>> mixture = audio.write(folder / "mix.wav", noise, sr=16000)
    >>> report = separate_file(mixture, load_preset("speech-noise-nhmm"), folder / "stems")
    >>> [stem.name for stem in report.stems], report.sr, report.seconds
    (['speech.wav', 'noise.wav'], 16000, 1.0)
    """
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {MODES}, got {mode!r}")
    by_state = per_state or bool(state_gains)
    if by_state and mode != "offline":
        raise ParameterError("per-state outputs and state gains need mode='offline' (they use "
                             "the smoothed state posteriors of the whole file)")
    check_float("strength", strength, low=0.0, high=1.0)
    check_output_folder(out_dir, error=AudioFileError)
    header = audio.info(mixture)
    targets = [Path(out_dir) / f"{name}.wav" for name in preset.source_names]
    if per_state:
        targets += [Path(out_dir) / f"{source.name}.state{q}.wav" for source in preset.sources
                    for q in range(source.n_states)]
    check_new_files(targets, overwrite=overwrite, inputs=[mixture], error=AudioFileError)
    y, file_sr = audio.load(mixture, mono=True)
    if mode == "online":
        # At the file's rate, through the live path's resamplers when it is not the preset's.
        stems = separate_online(y, preset, sr=file_sr, settings=settings,
                                block_size=block_size, strength=strength, progress=progress)
    elif by_state:
        def split(signal: np.ndarray) -> np.ndarray:
            stems, states = stems_and_states(signal, preset, gains=state_gains,
                                             settings=settings)
            return np.concatenate([stems, *states]) if per_state else stems

        stems = separate_at_rate(y, file_sr, preset.sr, split)
    else:
        stems = separate_at_rate(y, file_sr, preset.sr, lambda signal: separate_offline(
            signal, preset, settings=settings, progress=progress))
    if mode == "offline" and not per_state:
        stems = at_strength(stems, y, strength)
    written = write_stems(stems, targets, sr=file_sr)
    return SeparationReport(stems=tuple(written), sr=file_sr,
                            channels_mixed_down=header.channels if header.channels > 1 else 0,
                            resampled_from=file_sr if file_sr != preset.sr else None,
                            seconds=y.size / file_sr)


def write_stems(stems: np.ndarray, targets: list[Path], *, sr: int) -> list[Path]:
    """Write stem i to targets[i] (all in one folder, created if missing): every file is
    staged in a temporary folder and moved into place only once all are written."""
    folder = targets[0].parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AudioFileError(f"{folder}: cannot create the output folder ({error.strerror})"
                             ) from None
    staging = Path(tempfile.mkdtemp(prefix=".livesep-", dir=folder))
    try:
        staged = [audio.write(staging / target.name, stem, sr=sr)
                  for stem, target in zip(stems, targets)]
        for file, target in zip(staged, targets):
            os.replace(file, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return targets
