"""Building the corpus: each part's tasks, checks before a build, and the build functions.

:func:`build` runs the sources of every requested part in one process pool, then the
mixtures, and merges the results into ``manifest.json``; ``build_<part>`` builds one part.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import CorpusError
from .drumkits import DRUMKIT_ROOT
from .drums import DRUM_SECONDS, _drums_task
from .instruments import INSTRUMENT_SECONDS, _instrument_task
from .manifest import _finish, _forget
from .midi import SOUNDFONT
from .mixtures import MIXTURE_MAX_S, MixtureSpec, _mixture_task, default_mixtures
from .music import INSTRUMENTS
from .noise import NOISE_SECONDS, NOISES, _cymbal_noise_task, _program_noise_task
from .packages import _require_file, ensure_mido, ensure_packages
from .runner import Task, _run
from .speech import KLETTRES_ROOT, MAX_CLIPS, READERS, _speech_task

PARTS = ("speech", "instruments", "drums", "noise", "mixtures")
PACKAGES: dict[str, tuple[str, ...]] = {
    "speech": ("klettres-data",),
    "instruments": ("fluidsynth", "fluid-soundfont-gm"),
    "drums": ("hydrogen-drumkits",),
    "noise": ("fluidsynth", "fluid-soundfont-gm", "hydrogen-drumkits"),
    "mixtures": (),
}


def _speech_tasks(out_dir: Path, sr: int, readers: Sequence[str] | None,
                  max_clips: int | None) -> list[Task]:
    for reader in readers or ():
        if reader not in READERS:
            raise CorpusError(f"klettres reader {reader!r} is held out or unknown; allowed: "
                              f"{', '.join(READERS)}")
    return [Task("speech", (reader,), _speech_task, (out_dir, sr, reader, max_clips))
            for reader in (readers or list(READERS))]


def _instrument_tasks(out_dir: Path, sr: int, names: Sequence[str] | None,
                      seconds: tuple[float, float]) -> list[Task]:
    for name in names or ():
        if name not in INSTRUMENTS:
            raise CorpusError(f"unknown instrument {name!r}; known: {', '.join(INSTRUMENTS)}")
    return [Task("instruments", (name, split), _instrument_task, (out_dir, sr, name, split, s))
            for name in (names or list(INSTRUMENTS))
            for split, s in zip(("train", "test"), seconds)]


def _drum_tasks(out_dir: Path, sr: int, seconds: tuple[float, float]) -> list[Task]:
    return [Task("drums", (split,), _drums_task, (out_dir, sr, split, s))
            for split, s in zip(("train", "test"), seconds)]


def _noise_tasks(out_dir: Path, sr: int, names: Sequence[str] | None,
                 seconds: tuple[float, float]) -> list[Task]:
    tasks = []
    for name in names or NOISES:
        if name not in NOISES:
            raise CorpusError(f"unknown noise {name!r}; known: {', '.join(NOISES)}")
        for split, s in zip(("train", "test"), seconds):
            if name == "cymbals":
                tasks.append(Task("noise", (name, split), _cymbal_noise_task,
                                  (out_dir, sr, split, s)))
            else:
                tasks.append(Task("noise", (name, split), _program_noise_task,
                                  (out_dir, sr, name, split, s)))
    return tasks


def _mixture_tasks(out_dir: Path, sr: int, specs: Sequence[MixtureSpec] | None,
                   max_seconds: float) -> list[Task]:
    return [Task("mixtures", (spec.name,), _mixture_task, (out_dir, sr, spec, max_seconds))
            for spec in (specs if specs is not None else default_mixtures())]


def _check_sr(sr: int) -> None:
    if not isinstance(sr, (int, np.integer)) or not 8000 <= sr <= 192000:
        raise CorpusError(f"sr must be an integer rate between 8000 and 192000 Hz, got {sr!r}")


def _prepare(out_dir: Path, sr: int, parts: Iterable[str], quiet: bool) -> Path:
    _check_sr(sr)
    parts = list(parts)
    ensure_packages([p for part in parts for p in PACKAGES[part]], quiet=quiet)
    for part, path, package in (("speech", KLETTRES_ROOT, "klettres-data"),
                                ("instruments", SOUNDFONT, "fluid-soundfont-gm"),
                                ("noise", SOUNDFONT, "fluid-soundfont-gm"),
                                ("drums", DRUMKIT_ROOT, "hydrogen-drumkits"),
                                ("noise", DRUMKIT_ROOT, "hydrogen-drumkits")):
        if part in parts:
            _require_file(path, package)
    if {"instruments", "noise"} & set(parts):
        ensure_mido(quiet=quiet)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CorpusError(f"cannot create {out}: {error.strerror}") from None
    return out


def build_speech(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                 readers: Sequence[str] | None = None, max_clips: int | None = MAX_CLIPS,
                 jobs: int = 1, quiet: bool = True) -> dict[str, Any]:
    """Build ``speech/<reader>/{train,test}.wav`` from klettres clips.

    Each clip is mixed down, resampled, stripped of the silence around it and joined to the
    next with 50-100 ms of silence; every 4th clip of the sorted list goes to test.

    Parameters
    ----------
    out_dir : path-like
        The corpus folder.
    sr : int, keyword-only
        Output sample rate.
    readers : sequence of str or None, keyword-only
        Readers to build (keys of :data:`READERS`); ``None`` for all.
    max_clips : int or None, keyword-only
        At most this many clips per reader.
    jobs : int, keyword-only
        Worker processes.
    quiet : bool, keyword-only
        No progress lines.

    Returns
    -------
    dict
        The manifest entries, ``{"speech": {reader: ...}}``; ``manifest.json`` is updated.
    """
    tasks = _speech_tasks(Path(out_dir), sr, readers, max_clips)  # checks names first
    out = _prepare(Path(out_dir), sr, ["speech"], quiet)
    results = _run(tasks, jobs=jobs, quiet=quiet)
    _finish(out, sr, results, PACKAGES["speech"])
    return results


def build_instruments(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                      names: Sequence[str] | None = None,
                      seconds: tuple[float, float] = INSTRUMENT_SECONDS, jobs: int = 1,
                      quiet: bool = True) -> dict[str, Any]:
    """Build ``instruments/<name>/{train,test}.{wav,mid}`` by rendering composed MIDI.

    Parameters
    ----------
    out_dir : path-like
        The corpus folder.
    sr : int, keyword-only
        Output (and rendering) sample rate.
    names : sequence of str or None, keyword-only
        Keys of :data:`INSTRUMENTS`; ``None`` for all.
    seconds : (float, float), keyword-only
        Train and test lengths.
    jobs, quiet
        As for :func:`build_speech`.

    Returns
    -------
    dict
        ``{"instruments": {name: {"train": ..., "test": ...}}}``.
    """
    tasks = _instrument_tasks(Path(out_dir), sr, names, seconds)
    out = _prepare(Path(out_dir), sr, ["instruments"], quiet)
    results = _run(tasks, jobs=jobs, quiet=quiet)
    _finish(out, sr, results, PACKAGES["instruments"])
    return results


def build_drums(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                seconds: tuple[float, float] = DRUM_SECONDS, jobs: int = 1,
                quiet: bool = True) -> dict[str, Any]:
    """Build ``drums/{train,test}.wav``: grooves on the training kits and on :data:`TEST_KITS`.

    Parameters are as for :func:`build_instruments`.
    """
    out = _prepare(Path(out_dir), sr, ["drums"], quiet)
    results = _run(_drum_tasks(out, sr, seconds), jobs=jobs, quiet=quiet)
    _finish(out, sr, results, PACKAGES["drums"])
    return results


def build_noise(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                names: Sequence[str] | None = None,
                seconds: tuple[float, float] = NOISE_SECONDS, jobs: int = 1,
                quiet: bool = True) -> dict[str, Any]:
    """Build ``noise/<name>/{train,test}.wav`` (names from :data:`NOISES`).

    Parameters are as for :func:`build_instruments`.
    """
    tasks = _noise_tasks(Path(out_dir), sr, names, seconds)
    out = _prepare(Path(out_dir), sr, ["noise"], quiet)
    results = _run(tasks, jobs=jobs, quiet=quiet)
    _finish(out, sr, results, PACKAGES["noise"])
    return results


def build_mixtures(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                   specs: Sequence[MixtureSpec] | None = None,
                   max_seconds: float = MIXTURE_MAX_S, jobs: int = 1,
                   quiet: bool = True) -> dict[str, Any]:
    """Build ``mixtures/<name>/`` (``mix.wav`` and one reference per source) from test files.

    Parameters
    ----------
    out_dir : path-like
        The corpus folder, which must already hold the test files the mixtures use.
    sr : int, keyword-only
        The corpus sample rate.
    specs : sequence of MixtureSpec or None, keyword-only
        The mixtures; ``None`` for :func:`default_mixtures`.
    max_seconds : float, keyword-only
        Longest mixture; the references are cut to the shorter source and to this.
    jobs, quiet
        As for :func:`build_speech`.
    """
    out = _prepare(Path(out_dir), sr, ["mixtures"], quiet)
    results = _run(_mixture_tasks(out, sr, specs, max_seconds), jobs=jobs, quiet=quiet)
    _finish(out, sr, results, ())
    return results


def build(out_dir: str | os.PathLike[str], *, sr: int = 16000,
          parts: Sequence[str] = PARTS, jobs: int | None = None,
          quiet: bool = False) -> Path:
    """Build the requested parts, all sources in one process pool, then the mixtures.

    Each part is rebuilt whole: in a folder this script made before, the part's old folder
    and manifest entry are removed first.

    Parameters
    ----------
    out_dir : path-like
        The corpus folder (created if needed).
    sr : int, keyword-only
        Sample rate of everything.
    parts : sequence of str, keyword-only
        Any of :data:`PARTS`.
    jobs : int or None, keyword-only
        Worker processes; ``None`` for the number of CPUs.
    quiet : bool, keyword-only
        No progress lines.

    Returns
    -------
    Path
        The manifest.
    """
    unknown = [part for part in parts if part not in PARTS]
    if not parts:
        raise CorpusError(f"nothing to build; choose parts from {', '.join(PARTS)}")
    if unknown:
        raise CorpusError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    out = _prepare(Path(out_dir), sr, parts, quiet)
    _forget(out, parts)
    jobs = jobs or os.cpu_count() or 1
    tasks: list[Task] = []
    if "speech" in parts:
        tasks += _speech_tasks(out, sr, None, MAX_CLIPS)
    if "instruments" in parts:
        tasks += _instrument_tasks(out, sr, None, INSTRUMENT_SECONDS)
    if "drums" in parts:
        tasks += _drum_tasks(out, sr, DRUM_SECONDS)
    if "noise" in parts:
        tasks += _noise_tasks(out, sr, None, NOISE_SECONDS)
    # The slow renderings first, so the pool does not end waiting on one of them.
    tasks.sort(key=lambda task: task.part not in ("instruments", "noise"))
    results = _run(tasks, jobs=jobs, quiet=quiet) if tasks else {}
    if "mixtures" in parts:
        mixes = _run(_mixture_tasks(out, sr, None, MIXTURE_MAX_S), jobs=jobs, quiet=quiet)
        results.update(mixes)
    return _finish(out, sr, results, [p for part in parts for p in PACKAGES[part]])
