"""A corpus of audio files as chunks that a worker streams from disk: a chunk is a few files
whose frames are read, analysed and scaled when a task needs them (so a worker holds one
chunk at a time, whatever the corpus size), and whose per-frame weights live in a scratch
folder between EM iterations.

Training a source from files (:func:`train_files`) runs three kinds of passes over the
chunks, each a ``map_sum``: the loudest frame (for the silence threshold every frame is
measured against, as in :func:`livesep.models.train.signals_spectrogram`), the frames kept
and their total (for the count scale of :func:`livesep.models.hmm.scale_counts`), then the EM
iterations. The first chunk also seeds the initial model. With one chunk this is exactly
:func:`livesep.models.train.train_source`; with several, each chunk is a sequence of its
own (forward-backward does not run across chunk boundaries).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep import audio, spectral
from livesep.errors import ParameterError
from livesep.models.betadiv import RELATIVE_EPS
from livesep.models.corpus.em import MapSum, initial_nhmm, local_map_sum, nhmm_em
from livesep.models.corpus.nmf_em import nmf_em
from livesep.models.initialise import initial_factors
from livesep.progress import Progress

__all__ = ["CorpusTotals", "FileChunk", "Peak", "plan_chunks", "train_files"]

#: As livesep.models.train.SILENCE_DB: frames this far below the loudest are left out.
SILENCE_DB = 60.0


@dataclass(frozen=True)
class Peak:
    """The loudest frame's energy; peaks "add" by taking the larger."""

    energy: float

    def __add__(self, other: Peak) -> Peak:
        return Peak(max(self.energy, other.energy))


@dataclass(frozen=True)
class CorpusTotals:
    """Frames kept (non-silent), the sum of their magnitudes and the largest; totals add."""

    frames: int
    magnitude: float
    peak: float

    def __add__(self, other: CorpusTotals) -> CorpusTotals:
        return CorpusTotals(self.frames + other.frames, self.magnitude + other.magnitude,
                            max(self.peak, other.peak))


@dataclass(frozen=True)
class FileChunk:
    """Some audio files of one source, analysed when asked (on whichever worker runs the
    task); see the module docstring.

    Attributes
    ----------
    files : tuple of str
        The chunk's files, read in this order and their frames concatenated.
    index : int
        The chunk's number, naming its weights in ``scratch``.
    sr, n_fft, hop_length : int
        Analysis settings.
    threshold : float or None
        Frames with energy at or below it are silence, left out; None: not known yet.
    scale : float
        Factor to counts (the N-HMM's scale).
    dtype : str
        Work dtype of the frames handed to EM.
    scratch : str or None
        Folder (seen by every worker) of the weights between iterations.
    """

    files: tuple[str, ...]
    index: int
    sr: int
    n_fft: int
    hop_length: int
    threshold: float | None = None
    scale: float = 1.0
    dtype: str = "float32"
    scratch: str | None = None

    def magnitudes(self) -> npt.NDArray[np.float32]:
        """Every frame of the chunk's files, shape (F, T), float32."""
        return np.concatenate([
            spectral.magnitude(audio.load(file, sr=self.sr)[0], n_fft=self.n_fft,
                               hop_length=self.hop_length) for file in self.files], axis=1)

    def kept(self) -> npt.NDArray[np.float32]:
        """The frames louder than ``threshold``, shape (F, T'), float32."""
        V = self.magnitudes()
        energy = (V.astype(np.float64) ** 2).sum(axis=0)
        loud = energy > (self.threshold or 0.0)
        return np.ascontiguousarray(V[:, loud])

    def peak(self) -> Peak:
        """The energy of the chunk's loudest frame."""
        V = self.magnitudes()
        return Peak(float((V.astype(np.float64) ** 2).sum(axis=0).max(initial=0.0)))

    def totals(self) -> CorpusTotals:
        """Frames kept and their summed magnitude."""
        V = self.kept()
        return CorpusTotals(int(V.shape[1]), float(V.astype(np.float64).sum()),
                            float(V.max(initial=0.0)))

    def spectrogram(self) -> npt.NDArray[np.floating]:
        """The kept frames scaled to counts, in the work dtype, shape (F, T')."""
        return np.ascontiguousarray(self.kept().astype(np.float64) * self.scale,
                                    dtype=self.dtype)

    def _weights_file(self, iteration: int) -> Path:
        if self.scratch is None:
            raise ParameterError("a file chunk needs a scratch folder for its weights")
        return Path(self.scratch) / f"chunk{self.index:06d}.iteration{iteration:05d}.npy"

    def weights(self, iteration: int) -> npt.NDArray[np.floating] | None:
        file = self._weights_file(iteration)
        return np.load(file) if file.is_file() else None

    def store_weights(self, iteration: int, H: npt.NDArray[np.floating]) -> None:
        file = self._weights_file(iteration)
        handle, temporary = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".part",
                                             dir=file.parent)
        with os.fdopen(handle, "wb") as out:
            np.save(out, H)
        os.replace(temporary, file)
        if iteration >= 2:
            # Keep the weights this iteration started from: a rerun of its task needs them.
            self._weights_file(iteration - 2).unlink(missing_ok=True)


def plan_chunks(files: Sequence[str | os.PathLike[str]], *, seconds: float, sr: int,
                n_fft: int, hop_length: int) -> list[FileChunk]:
    """Group ``files`` (in order) into chunks of at most ``seconds`` of audio each (a longer
    file is a chunk of its own), by their headers.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> files = [audio.write(folder / f"{i}.wav", np.zeros(8000, np.float32), sr=16000)
    ...          for i in range(5)]
    >>> [len(c.files) for c in plan_chunks(files, seconds=1.0, sr=16000, n_fft=512,
    ...                                    hop_length=128)]
    [2, 2, 1]
    """
    if not seconds > 0:
        raise ParameterError(f"chunk_seconds must be > 0, got {seconds!r}")
    chunks: list[list[str]] = []
    filled = seconds
    for file in files:
        header = audio.info(file)
        length = header.frames / header.sr
        if filled + length > seconds and (not chunks or chunks[-1]):
            chunks.append([])
            filled = 0.0
        chunks[-1].append(str(file))
        filled += length
    return [FileChunk(tuple(group), index, sr, n_fft, hop_length)
            for index, group in enumerate(chunks)]


def _call(method: str, chunk: FileChunk) -> Any:
    return getattr(chunk, method)()


def train_files(files: Sequence[str | os.PathLike[str]], *, model: str = "nhmm",
                n_states: int = 1, n_components: int, sr: int, n_fft: int, hop_length: int,
                n_iter: int, seed: int, chunk_seconds: float, scratch: str | os.PathLike[str],
                map_sum: MapSum | None = None, beta: float = 1.0, counts: float = 30.0,
                tol: float | None = None, init_nmf_iter: int = 50, init_weight_iter: int = 5,
                transition_floor: float = 1e-3, dtype: str = "float32",
                min_frames: int = 1, progress: Progress | None = None) -> dict[str, Any]:
    """Train one source's N-HMM or NMF from audio files streamed in chunks.

    Parameters
    ----------
    files : sequence of path-like
        The source's examples.
    model : {"nhmm", "nmf"}, keyword-only
        The N-HMM (:func:`livesep.models.nhmm.train_nhmm`, ``"global"`` counts) or
        β-NMF (:func:`livesep.models.nmf.nmf`, NNDSVD start, no penalties).
    n_states, n_components, n_iter, seed, beta, counts, tol, init_nmf_iter,
    init_weight_iter, transition_floor, dtype : keyword-only
        As for those functions (``tol`` None: their defaults, 1e-5 and 1e-4); ``dtype`` is
        the N-HMM's (NMF runs in float64).
    sr, n_fft, hop_length : int, keyword-only
        Analysis settings.
    chunk_seconds : float, keyword-only
        Audio per chunk: a worker holds one chunk's frames and weights at a time.
    scratch : path-like, keyword-only
        A folder every worker can write (created if missing), for the chunks' weights
        between iterations.
    map_sum : callable, optional, keyword-only
        Where the chunks run (:func:`~livesep.models.corpus.em.local_map_sum` by default).
    min_frames : int, keyword-only
        Fewer frames kept than this is an error.
    progress : callable, optional, keyword-only
        Fraction done.

    Returns
    -------
    dict
        ``W`` float32 ((Q, F, K) for the N-HMM, (F, K) for NMF), for the N-HMM ``A``,
        ``pi`` and ``log_likelihoods``, for NMF ``costs``; ``n_iter``, ``converged``,
        ``frames``, ``chunks`` and ``seconds`` (of each pass).
    """
    if model not in ("nhmm", "nmf"):
        raise ParameterError(f"model must be 'nhmm' or 'nmf' to train in chunks, got "
                             f"{model!r}")
    run = map_sum or local_map_sum
    Path(scratch).mkdir(parents=True, exist_ok=True)
    chunks = plan_chunks(files, seconds=chunk_seconds, sr=sr, n_fft=n_fft,
                         hop_length=hop_length)
    started = time.perf_counter()
    peak: Peak = run(partial(_call, "peak"), chunks)
    threshold = peak.energy * 10.0 ** (-SILENCE_DB / 10.0)
    chunks = [replace(chunk, threshold=threshold) for chunk in chunks]
    totals: CorpusTotals = run(partial(_call, "totals"), chunks)
    timings = {"read": time.perf_counter() - started}
    if totals.frames < max(min_frames, n_states):
        raise ParameterError(f"{totals.frames} frames of audio (silence removed) are too few "
                             f"for {n_states} state(s) x {n_components} components")
    # scale_counts("global"): the mean kept frame holds `counts` counts; NMF reads V as is.
    scale = counts / (totals.magnitude / totals.frames) if model == "nhmm" else 1.0
    chunks = [replace(chunk, scale=scale, dtype=dtype if model == "nhmm" else "float64",
                      scratch=str(scratch)) for chunk in chunks]
    first = chunks[0].kept().astype(np.float64) * scale
    if first.shape[1] < max(n_states, n_components if model == "nmf" else 1):
        raise ParameterError(f"the first chunk holds {first.shape[1]} frames, too few to "
                             f"initialise the model; raise chunk_seconds")
    result: dict[str, Any]
    if model == "nhmm":
        W0, A, pi = initial_nhmm(first, n_states=n_states, n_components=n_components,
                                 seed=seed, init_nmf_iter=init_nmf_iter,
                                 transition_floor=transition_floor)
        del first
        timings["initialise"] = time.perf_counter() - started - timings["read"]
        fit = nhmm_em(chunks, W0, A, pi, n_iter=n_iter, tol=1e-5 if tol is None else tol,
                      init_weight_iter=init_weight_iter, dtype=dtype, map_sum=run,
                      progress=progress)
        result = {"W": fit.W, "A": fit.A, "pi": fit.pi, "log_likelihoods": fit.log_likelihoods,
                  "n_iter": fit.n_iter, "converged": fit.converged}
    else:
        eps = RELATIVE_EPS * totals.peak
        if beta == 0:
            first = np.maximum(first, eps)
        stream = np.random.SeedSequence(seed).spawn(1)[0]  # nmf's first restart
        W0, H0 = initial_factors(first, n_components, "nndsvd", np.random.default_rng(stream))
        chunks[0].store_weights(0, H0)
        del first, H0
        timings["initialise"] = time.perf_counter() - started - timings["read"]
        nmf_fit = nmf_em(chunks, W0, beta=beta, eps=eps, n_iter=n_iter,
                         tol=1e-4 if tol is None else tol, map_sum=run, progress=progress)
        result = {"W": nmf_fit.W, "costs": nmf_fit.costs, "n_iter": nmf_fit.n_iter,
                  "converged": nmf_fit.converged}
    timings["em"] = time.perf_counter() - started - timings["read"] - timings["initialise"]
    for chunk in chunks:
        for leftover in Path(scratch).glob(f"chunk{chunk.index:06d}.iteration*.npy"):
            leftover.unlink(missing_ok=True)
    return {**result, "W": np.ascontiguousarray(result["W"], dtype=np.float32),
            "frames": totals.frames, "chunks": len(chunks), "seconds": timings}
