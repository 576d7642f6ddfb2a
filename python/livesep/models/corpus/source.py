"""One source's model trained from its files in chunks (what ``livesep train --workers`` /
``--scheduler`` runs for each source)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from livesep.errors import ParameterError
from livesep.models.corpus.chunks import train_files
from livesep.models.corpus.em import MapSum
from livesep.models.train import TrainSettings, minimum_frames
from livesep.presets import SourceModel
from livesep.progress import Progress

__all__ = ["train_source_chunked", "CHUNK_SECONDS"]

#: Audio per chunk by default: ten minutes, about 0.8 GB per worker for a 20-state N-HMM of
#: 10 components at 16 kHz (about 1.3 MB a second of audio, measured; docs/cluster.md).
CHUNK_SECONDS = 600.0


def train_source_chunked(name: str, files: Sequence[Path], settings: TrainSettings, *,
                         chunk_seconds: float = CHUNK_SECONDS,
                         scratch: str | os.PathLike[str] | None = None,
                         map_sum: MapSum | None = None, progress: Progress | None = None,
                         provenance: Mapping[str, Any] | None = None) -> SourceModel:
    """Train one source's N-HMM or NMF from files streamed in chunks; see
    :func:`livesep.models.train.train_source` (the same model when everything fits in one
    chunk) and :func:`livesep.models.corpus.chunks.train_files`.

    Parameters
    ----------
    name : str
    files : sequence of Path
    settings : TrainSettings
        ``model`` must be ``"nhmm"`` or ``"nmf"``.
    chunk_seconds : float, keyword-only
        Audio per chunk.
    scratch : path-like, optional, keyword-only
        Folder for the chunks' weights, seen by every worker; a temporary folder here by
        default (enough for workers on this machine).
    map_sum : callable, optional, keyword-only
        Where the chunks run; in this process by default.
    progress, provenance : keyword-only
        As for :func:`~livesep.models.train.train_source`.

    Returns
    -------
    SourceModel

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from livesep import audio
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> files = [audio.write(folder / f"{i}.wav", rng.normal(size=16000).astype(np.float32),
    ...                      sr=16000) for i in range(2)]
    >>> model = train_source_chunked("noise", files, TrainSettings(n_states=2, n_components=2,
    ...                              n_iter=2), chunk_seconds=1.0)
    >>> model.W.shape
    (2, 257, 2)
    """
    if settings.model not in ("nhmm", "nmf"):
        raise ParameterError(f"only N-HMM and NMF sources are trained in chunks on a cluster, "
                             f"got model={settings.model!r} (train it without --workers and "
                             f"--scheduler)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="livesep-train-") as temporary:
        result = train_files(files, model=settings.model, beta=settings.beta,
                             n_states=settings.n_states,
                             n_components=settings.n_components, sr=settings.sr,
                             n_fft=settings.n_fft, hop_length=settings.hop_length,
                             n_iter=settings.iterations, seed=settings.seed,
                             chunk_seconds=chunk_seconds,
                             scratch=temporary if scratch is None else scratch,
                             map_sum=map_sum, min_frames=minimum_frames(settings),
                             progress=progress)
    provenance = {
        **dict(provenance or {}), "files": [str(file) for file in files][:200],
        "n_files": len(files),
        "seconds": round(result["frames"] * settings.hop_length / settings.sr, 2),
        "seed": settings.seed, "iterations": settings.iterations, "model": settings.model,
        "chunks": result["chunks"], "chunk_seconds": chunk_seconds,
        "training_seconds": round(time.perf_counter() - started, 2),
    }
    if settings.model == "nmf":
        provenance.update(beta=settings.beta, final_cost=float(result["costs"][-1]))
        return SourceModel.from_nmf(name, result["W"], provenance=provenance,
                                    adaptive=settings.adaptive)
    provenance.update(log_likelihood=float(result["log_likelihoods"][-1]), counts=30.0)
    return SourceModel(name, W=result["W"], A=result["A"], pi=result["pi"],
                       provenance=provenance, adaptive=settings.adaptive)
