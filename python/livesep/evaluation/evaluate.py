"""Scoring a preset on mixtures with known sources (what ``livesep eval`` runs).

A mixtures folder (:mod:`livesep.evaluation.mixtures`) holds ``<mixture>/mix.wav`` beside one
reference ``<source>.wav`` per source of the preset. Every mixture is separated by each
method — ``online`` (the causal C++ engine, block by block as live), ``offline`` (the
non-causal reference: supervised NMF for an NMF preset, N-FHMM forward-backward
otherwise) — and scored beside ``mixture`` (the floor: every source estimated as the
mixture) and ``irm`` (the ceiling: ideal ratio masks from the true sources) with the same
functions (:mod:`livesep.evaluation.metrics`): SDR / SIR / SAR and SI-SDR for every source, STOI and
wideband PESQ for the speech sources.

Which sources are speech: :func:`speech_sources` guesses from the preset (source names
such as ``speech``, ``voice``, ``male``, ``female``, ``speaker2``, or training files under
a folder named ``speech``); callers may pass their own list.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.engine import EngineSettings
from livesep.errors import ParameterError
from livesep.evaluation import metrics
from livesep.evaluation.mixtures import (
    MIX_FILE,
    Mixture,
    find_mixtures,
    load_mixture,
    select_mixtures,
    speech_sources,
)
from livesep.presets import Preset
from livesep.progress import Progress
from livesep.separation.files import MODES
from livesep.threads import blas_threads

__all__ = ["METHODS", "METRICS", "Mixture", "SourceScores", "MethodScores", "FileScores",
           "Evaluation", "find_mixtures", "load_mixture", "speech_sources", "separate_with",
           "score_estimates", "evaluate_signals", "evaluate_preset", "score_folder",
           "MIX_FILE"]

#: Methods in the order they are reported: the separation modes, the floor and the ceiling.
METHODS = (*MODES, "mixture", "irm")
#: Figures per source: name → what the table calls it.
METRICS = {"sdr": "SDR", "sir": "SIR", "sar": "SAR", "si_sdr": "SI-SDR", "stoi": "STOI",
           "pesq": "PESQ"}

Signal = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SourceScores:
    """One source's figures; NaN where a figure was not computed (STOI / PESQ of a
    non-speech source) or could not be (``pesq_note`` says why)."""

    sdr: float
    sir: float
    sar: float
    si_sdr: float
    stoi: float = float("nan")
    pesq: float = float("nan")
    pesq_note: str | None = None


@dataclass(frozen=True)
class MethodScores:
    """One method on one mixture.

    ``permutation[s]`` is the estimate BSS Eval matched to reference ``s``; ``swapped``
    flags a permutation other than the identity (a failure: the outputs are in the wrong
    order). SDR / SIR / SAR are under that permutation; SI-SDR, STOI and PESQ compare each
    output with the reference of the same name, as a user of the stems would.
    ``seconds`` is the time the method took.
    """

    method: str
    sources: dict[str, SourceScores]
    permutation: tuple[int, ...]
    swapped: bool
    seconds: float

    def mean(self, metric: str) -> float:
        """The metric averaged over the sources that have it (NaN if none)."""
        return _nanmean(getattr(s, metric) for s in self.sources.values())


@dataclass(frozen=True)
class FileScores:
    """Every method on one mixture."""

    name: str
    seconds: float
    methods: dict[str, MethodScores]
    notes: tuple[str, ...] = ()


def _nanmean(values: Iterable[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


@dataclass(frozen=True)
class Evaluation:
    """A preset scored on a set of mixtures: per file, and means over the files."""

    preset: str
    source_names: tuple[str, ...]
    speech: tuple[str, ...]
    methods: tuple[str, ...]
    settings: dict[str, Any]
    files: list[FileScores] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def mean(self, method: str, metric: str, source: str | None = None) -> float:
        """Mean over the files of one source's metric, or of the per-file source mean."""
        return _nanmean(f.methods[method].mean(metric) if source is None
                        else getattr(f.methods[method].sources[source], metric)
                        for f in self.files)

    @classmethod
    def from_files(cls, preset: Preset, files: Sequence[FileScores], *,
                   speech: Iterable[str] | None = None,
                   settings: EngineSettings | None = None) -> Evaluation:
        """An evaluation of results from :func:`evaluate_signals` (e.g. one demo file).

        The methods are the first file's; ``speech`` defaults to :func:`speech_sources`.
        """
        if not files:
            raise ParameterError("an evaluation needs at least one file's scores")
        return cls(preset=preset.name, source_names=preset.source_names,
                   speech=speech_sources(preset) if speech is None else tuple(speech),
                   methods=tuple(files[0].methods),
                   settings=asdict(settings or EngineSettings()), files=list(files))

    @property
    def swaps(self) -> list[tuple[str, str]]:
        """(file, method) of every separation whose outputs came out in the wrong order."""
        return [(f.name, m.method) for f in self.files for m in f.methods.values() if m.swapped]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN as None)."""
        means = {method: {name: {metric: self.mean(method, metric, name) for metric in METRICS}
                          for name in self.source_names}
                 for method in self.methods}
        for method in self.methods:
            means[method]["all"] = {metric: self.mean(method, metric) for metric in METRICS}
        data = {"preset": self.preset, "sources": list(self.source_names),
                "speech_sources": list(self.speech), "methods": list(self.methods),
                "settings": self.settings, "clamp_db": metrics.CLAMP_DB,
                "swaps": [{"file": f, "method": m} for f, m in self.swaps],
                "skipped": list(self.skipped),
                "mean": means, "files": [asdict(f) for f in self.files]}
        return _json_ready(data)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def separate_with(method: str, mixture: npt.ArrayLike, preset: Preset, *,
                  references: npt.ArrayLike | None = None,
                  settings: EngineSettings | None = None, block_size: int = 512,
                  progress: Progress | None = None) -> Signal:
    """Estimates of every source by one method, shape (S, n), float32.

    Parameters
    ----------
    method : {"online", "offline", "mixture", "irm"}
        See the module's description.
    mixture : array-like, shape (n,)
        At ``preset.sr``.
    preset : Preset
    references : array-like, shape (S, n), optional, keyword-only
        The true sources; needed by ``irm`` only.
    settings : EngineSettings, optional, keyword-only
    block_size : int, keyword-only
        Engine block size of ``online``.
    progress : callable, optional, keyword-only
        Fraction done, for the separators.
    """
    from livesep.separation.offline import separate_offline
    from livesep.separation.online import separate_online

    settings = settings or EngineSettings()
    if method == "online":
        return separate_online(mixture, preset, settings=settings, block_size=block_size,
                               progress=progress)
    if method == "offline":
        return separate_offline(mixture, preset, settings=settings, progress=progress)
    if method == "mixture":
        return metrics.mixture_floor(mixture, n_sources=preset.n_sources)
    if method == "irm":
        if references is None:
            raise ParameterError("method 'irm' needs the references")
        return metrics.ideal_ratio_mask(references, n_fft=preset.n_fft,
                                        hop_length=preset.hop_length,
                                        power=settings.mask_power, mixture=mixture)
    raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def score_estimates(references: npt.ArrayLike, estimates: npt.ArrayLike, *, sr: int,
                    source_names: Sequence[str], speech: Iterable[str] = (),
                    method: str = "", seconds: float = 0.0) -> MethodScores:
    """Every figure of one set of estimates against the references.

    Parameters
    ----------
    references, estimates : array-like, shape (S, n)
        Paired by position, in the order of ``source_names``.
    sr : int, keyword-only
        Their rate in Hz.
    source_names : sequence of str, keyword-only
        S names.
    speech : iterable of str, keyword-only
        The names that get STOI and PESQ.
    method : str, keyword-only
        A label for the result.
    seconds : float, keyword-only
        How long producing the estimates took, recorded as is.

    Returns
    -------
    MethodScores
    """
    ref = np.asarray(references, dtype=np.float64)
    est = np.asarray(estimates, dtype=np.float64)
    if len(source_names) != ref.shape[0]:
        raise ParameterError(f"{len(source_names)} source names for {ref.shape[0]} references")
    bss = metrics.bss_eval(ref, est)
    scale_invariant = metrics.si_sdr(ref, est)
    speech = set(speech)
    sources = {}
    for s, name in enumerate(source_names):
        extra: dict[str, Any] = {}
        if name in speech:
            score = metrics.pesq(ref[s], est[s], sr=sr)
            extra = {"stoi": metrics.stoi(ref[s], est[s], sr=sr), "pesq": score.score,
                     "pesq_note": score.note}
        sources[name] = SourceScores(sdr=float(bss.sdr[s]), sir=float(bss.sir[s]),
                                     sar=float(bss.sar[s]), si_sdr=float(scale_invariant[s]),
                                     **extra)
    return MethodScores(method=method, sources=sources,
                        permutation=tuple(int(p) for p in bss.permutation),
                        swapped=bss.swapped, seconds=seconds)


def evaluate_signals(mixture: npt.ArrayLike, references: npt.ArrayLike, preset: Preset, *,
                     methods: Sequence[str] = METHODS, settings: EngineSettings | None = None,
                     speech: Iterable[str] | None = None, block_size: int = 512,
                     name: str = "mixture", progress: Progress | None = None) -> FileScores:
    """Separate one mixture with each method and score every result.

    Parameters
    ----------
    mixture : array-like, shape (n,)
        At ``preset.sr``.
    references : array-like, shape (S, n)
        The true sources in the preset's order.
    preset : Preset
    methods : sequence of str, keyword-only
        Any of :data:`METHODS`.
    settings : EngineSettings, optional, keyword-only
    speech : iterable of str, optional, keyword-only
        Sources that get STOI and PESQ; :func:`speech_sources` by default.
    block_size : int, keyword-only
        Engine block size of ``online``.
    name : str, keyword-only
        The label of the result.
    progress : callable, optional, keyword-only
        Fraction done.

    Returns
    -------
    FileScores

    Notes
    -----
    Runs with numpy's BLAS limited to one thread (:mod:`livesep.threads`): the products
    here are small, and threads waiting for busy cores made them many times slower.
    """
    _check_methods(methods)
    mix = np.asarray(mixture, dtype=np.float32)
    ref = np.asarray(references, dtype=np.float32)
    if mix.ndim != 1 or ref.shape != (preset.n_sources, mix.size):
        raise ParameterError(f"the mixture must be (n,) and the references (S, n) with S = "
                             f"{preset.n_sources} sources, got {mix.shape} and {ref.shape}")
    speech = speech_sources(preset) if speech is None else tuple(speech)
    with blas_threads(1):  # small products: see livesep.threads
        results = _run_methods(mix, ref, preset, methods=methods, settings=settings,
                               speech=speech, block_size=block_size, progress=progress)
    notes = tuple(f"{method} {name_}: PESQ not scored ({scores.pesq_note})"
                  for method, result in results.items()
                  for name_, scores in result.sources.items() if scores.pesq_note)
    return FileScores(name=name, seconds=mix.size / preset.sr, methods=results, notes=notes)


def _run_methods(mix: Signal, ref: Signal, preset: Preset, *, methods: Sequence[str],
                 settings: EngineSettings | None, speech: Sequence[str], block_size: int,
                 progress: Progress | None) -> dict[str, MethodScores]:
    results = {}
    for index, method in enumerate(methods):
        def step(fraction: float, index: int = index) -> None:
            # Separating takes the first 80 % of a method's share, scoring the rest.
            if progress is not None:
                progress((index + 0.8 * min(fraction, 1.0)) / len(methods))

        started = time.perf_counter()
        estimates = separate_with(method, mix, preset, references=ref, settings=settings,
                                  block_size=block_size, progress=step)
        elapsed = time.perf_counter() - started
        results[method] = score_estimates(ref, estimates, sr=preset.sr,
                                          source_names=preset.source_names, speech=speech,
                                          method=method, seconds=elapsed)
        if progress is not None:
            progress((index + 1) / len(methods))
    return results


def _check_methods(methods: Sequence[str]) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods or len(set(methods)) != len(methods):
        raise ParameterError(f"methods must be distinct names among {', '.join(METHODS)}, "
                             f"got {', '.join(map(repr, methods)) or 'none'}")


def evaluate_preset(preset: Preset, mixtures_dir: str | os.PathLike[str], *,
                    methods: Sequence[str] = METHODS, settings: EngineSettings | None = None,
                    speech: Iterable[str] | None = None, block_size: int = 512,
                    map_files: Callable[..., list[Any]] | None = None,
                    progress: Progress | None = None) -> Evaluation:
    """Score ``preset`` on every mixture folder in ``mixtures_dir``.

    In this process every folder is read and checked before any separation starts, so a
    bad input fails at once. Folders whose references name none of the preset's sources are
    set aside (:func:`livesep.evaluation.mixtures.select_mixtures`) and listed in
    ``Evaluation.skipped``.

    Parameters
    ----------
    preset : Preset
    mixtures_dir : path-like
        See the module's description.
    methods, settings, speech, block_size : keyword-only
        As for :func:`evaluate_signals`; ``speech`` names must be sources of the preset.
    map_files : callable, optional, keyword-only
        ``map_files(function, folders)`` returning the results in order, e.g. on a Dask
        cluster (:func:`livesep.scale.mapper`): each mixture is then read and scored by
        :func:`score_folder` where it runs, and ``progress`` is the caller's to report.
    progress : callable, optional, keyword-only
        Fraction of all the files done.

    Returns
    -------
    Evaluation
    """
    _check_methods(methods)
    settings = settings or EngineSettings()
    speech = speech_sources(preset) if speech is None else tuple(speech)
    unknown = [name for name in speech if name not in preset.source_names]
    if unknown:
        raise ParameterError(f"speech source {unknown[0]!r} is not a source of the preset "
                             f"(it has {', '.join(preset.source_names)})")
    folders, skipped = select_mixtures(find_mixtures(mixtures_dir), preset.source_names)
    evaluation = Evaluation(preset=preset.name, source_names=preset.source_names,
                            speech=speech, methods=tuple(methods),
                            settings={**asdict(settings), "block_size": block_size},
                            skipped=[folder.name for folder in skipped])
    score = partial(score_folder, preset=preset, methods=tuple(methods), settings=settings,
                    speech=speech, block_size=block_size)
    if map_files is not None:
        evaluation.files.extend(map_files(score, folders))
        return evaluation
    mixtures = [load_mixture(folder, preset.source_names, sr=preset.sr) for folder in folders]
    for index, mixture in enumerate(mixtures):
        def step(fraction: float, index: int = index) -> None:
            if progress is not None:
                progress((index + fraction) / len(mixtures))

        evaluation.files.append(score(mixture, progress=step))
    return evaluation


def score_folder(mixture: Mixture | Path, *, preset: Preset, methods: Sequence[str],
                 settings: EngineSettings, speech: Sequence[str], block_size: int,
                 progress: Progress | None = None) -> FileScores:
    """Score one mixture (loaded, or its folder) as :func:`evaluate_preset` does."""
    if not isinstance(mixture, Mixture):
        mixture = load_mixture(mixture, preset.source_names, sr=preset.sr)
    scores = evaluate_signals(mixture.mixture, mixture.references, preset, methods=methods,
                              settings=settings, speech=speech, block_size=block_size,
                              name=mixture.name, progress=progress)
    if mixture.resampled_from:
        scores = FileScores(name=scores.name, seconds=scores.seconds, methods=scores.methods,
                            notes=(f"resampled from {mixture.resampled_from} Hz to "
                                   f"{preset.sr} Hz",) + scores.notes)
    return scores
