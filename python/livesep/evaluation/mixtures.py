"""Mixture folders for scoring: a mixture and the true sources it was made of.

A mixtures folder holds one folder per mixture::

    DIR/<mixture>/mix.wav           the mono mixture
    DIR/<mixture>/<source>.wav      one mono reference per source of the preset, named
                                    after it, as long as mix.wav and at its rate

(``DIR`` may also be one such folder itself). Everything is checked before use, and every
problem is one :class:`~livesep.errors.AudioFileError` or
:class:`~livesep.errors.ParameterError` naming the file, what was expected and what was
found.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from livesep import audio
from livesep.errors import AudioFileError, ParameterError
from livesep.presets import Preset

__all__ = ["Mixture", "find_mixtures", "select_mixtures", "load_mixture", "speech_sources",
           "MIX_FILE", "MIN_SECONDS"]

#: The mixture's file name in a mixture folder.
MIX_FILE = "mix.wav"
#: Shortest mixture scored, in seconds (PESQ needs 1/4 s; BSS Eval more than its filter).
MIN_SECONDS = 0.5

Signal = npt.NDArray[np.float32]

_SPEECH_NAME = re.compile(
    r"^(speech|voice|vocals?|speakers?|talkers?|male|female|man|woman|men|women|"
    r"narrator|reader|dialog(ue)?)([-_ ]?\d+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Mixture:
    """One mixture and its references, mono, at one rate.

    Attributes
    ----------
    name : str
        The mixture folder's name.
    mixture : np.ndarray, shape (n,), float32
    references : np.ndarray, shape (S, n), float32
        In the preset's source order.
    sr : int
        Their rate: the one asked for (the preset's), else the files'.
    resampled_from : int or None
        The files' rate when it differed from the preset's.
    """

    name: str
    mixture: Signal
    references: Signal
    sr: int
    resampled_from: int | None = None


def find_mixtures(mixtures_dir: str | os.PathLike[str]) -> list[Path]:
    """The mixture folders in ``mixtures_dir`` (or ``mixtures_dir`` itself), sorted.

    Raises
    ------
    ParameterError
        If the folder is missing or holds no ``mix.wav``; a sub-folder with audio files
        but no ``mix.wav`` is named as misnamed.
    """
    root = Path(mixtures_dir)
    if not root.is_dir():
        raise ParameterError(f"{root}: no such folder of mixtures")
    if (root / MIX_FILE).is_file():
        return [root]
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = [folder for folder in folders if (folder / MIX_FILE).is_file()]
    for folder in folders:
        if folder not in found and _audio_files(folder):
            raise AudioFileError(f"{folder}: no {MIX_FILE} (found "
                                 f"{', '.join(p.name for p in _audio_files(folder))})")
    if not found:
        raise ParameterError(f"{root}: no mixtures; expected {root}/<name>/{MIX_FILE} with one "
                             "<source>.wav reference per source beside it")
    return found


def select_mixtures(folders: Sequence[Path], source_names: Sequence[str]
                    ) -> tuple[list[Path], list[Path]]:
    """Split mixture folders into those for a preset and those for other sources.

    A folder is for the preset when a reference is named after at least one of its
    sources (a partly misnamed set is then an error when it is loaded); folders holding
    none of them are set aside, so that one folder may hold mixtures of several kinds
    (the corpus's ``mixtures/``). A single folder is never set aside.

    Returns
    -------
    chosen, skipped : list of Path

    Raises
    ------
    AudioFileError
        If several folders hold none of the sources.
    """
    if len(folders) <= 1:
        return list(folders), []
    names = set(source_names)
    chosen = [f for f in folders if any(p.stem in names for p in _audio_files(f))]
    skipped = [f for f in folders if f not in chosen]
    if not chosen:
        example = skipped[0]
        raise AudioFileError(
            f"{example.parent}: no mixture has references named after the preset's sources; "
            f"expected <name>/{MIX_FILE} beside {', '.join(f'{n}.wav' for n in source_names)}"
            f" (found e.g. {example.name}/: "
            f"{', '.join(p.name for p in _audio_files(example))})")
    return chosen, skipped


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in audio.AUDIO_EXTENSIONS)


def _reference_file(folder: Path, name: str, expected: Sequence[str]) -> Path:
    candidates = [p for p in _audio_files(folder) if p.stem == name]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise AudioFileError(f"{folder}: several references for source {name!r}: "
                             f"{', '.join(p.name for p in candidates)}")
    found = ", ".join(p.name for p in _audio_files(folder)) or "no audio files"
    raise AudioFileError(f"{folder}: no reference for source {name!r}; expected "
                         f"{', '.join(f'{n}.wav' for n in expected)} beside {MIX_FILE} "
                         f"(found {found})")


def load_mixture(folder: str | os.PathLike[str], source_names: Sequence[str], *,
                 sr: int | None = None) -> Mixture:
    """Read ``folder/mix.wav`` and one reference per source, checked against each other.

    Parameters
    ----------
    folder : path-like
        A mixture folder.
    source_names : sequence of str
        The preset's sources: ``folder/<name>.wav`` (or another audio extension) each.
    sr : int, optional, keyword-only
        Resample everything to this rate (the preset's) when the files have another.

    Returns
    -------
    Mixture

    Raises
    ------
    AudioFileError
        A missing, misnamed, unreadable, multi-channel, silent or too short file, or a
        reference whose rate or length differs from the mixture's.
    """
    where = Path(folder)
    mix_path = where / MIX_FILE
    files = [mix_path] + [_reference_file(where, name, source_names) for name in source_names]
    headers = [audio.info(path) for path in files]
    mix_info = headers[0]
    for header in headers:
        if header.channels != 1:
            raise AudioFileError(f"{header.path}: {header.channels} channels; mixtures and "
                                 "references must be mono")
    for header in headers[1:]:
        if header.sr != mix_info.sr:
            raise AudioFileError(f"{header.path}: {header.sr} Hz, but {MIX_FILE} is "
                                 f"{mix_info.sr} Hz; references must have the mixture's rate")
        if header.frames != mix_info.frames:
            raise AudioFileError(f"{header.path}: {header.frames} samples, but {MIX_FILE} has "
                                 f"{mix_info.frames}; references must be as long as the "
                                 "mixture")
    if mix_info.duration < MIN_SECONDS:
        raise AudioFileError(f"{mix_path}: {mix_info.duration:.3f} s long; scoring needs at "
                             f"least {MIN_SECONDS} s")
    signals = [audio.load(path)[0] for path in files]
    for path, signal in zip(files[1:], signals[1:]):
        if not np.any(signal):
            raise AudioFileError(f"{path}: the reference is silent (all zeros); every source "
                                 "must be present to be scored")
    stacked = np.stack(signals)
    resampled_from = None
    if sr is not None and sr != mix_info.sr:
        stacked = audio.resample(stacked, orig_sr=mix_info.sr, target_sr=sr)
        resampled_from = mix_info.sr
    return Mixture(name=where.name, mixture=np.ascontiguousarray(stacked[0]),
                   references=np.ascontiguousarray(stacked[1:]),
                   sr=mix_info.sr if sr is None else sr, resampled_from=resampled_from)


def speech_sources(preset: Preset) -> tuple[str, ...]:
    """The sources of ``preset`` that hold speech, for STOI and PESQ.

    A source counts as speech when its name is a speech word (``speech``, ``voice``,
    ``vocals``, ``speaker``, ``talker``, ``male``, ``female``, ``man``, ``woman``,
    ``narrator``, ``reader``, ``dialogue``; optionally followed by a number, e.g.
    ``speaker2``) or when it was trained on files under a folder named ``speech``.
    """
    chosen = []
    for source in preset.sources:
        files = source.provenance.get("files", [])
        paths = files if isinstance(files, list) else [files]
        trained_on_speech = any("speech" in Path(str(p)).parts[:-1] for p in paths)
        if _SPEECH_NAME.match(source.name) or trained_on_speech:
            chosen.append(source.name)
    return tuple(chosen)
