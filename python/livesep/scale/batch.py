"""Resumable batches: one job per input file, run on a Dask cluster, outputs in a tree that
mirrors the inputs', a completion marker per file and a JSON manifest of the whole run.

A file is finished when its marker (``<out>/<relative path>/.livesep-done.json``) exists and
every output it lists does. The job writes each output atomically (temporary name, then
``os.replace``) and the marker is written last, also atomically, so a worker that dies leaves
either a finished file or one the next run redoes; the leftovers of an interrupted write
(hidden ``.livesep-*`` staging folders and ``*.part`` files) are removed before it is redone.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from livesep import audio
from livesep.errors import AudioFileError, LivesepError, ParameterError
from livesep.files import atomic_write
from livesep.progress import Progress

__all__ = ["BatchItem", "BatchResult", "FileRecord", "Job", "batch_items", "is_batch_input",
           "run_batch", "MARKER", "MANIFEST", "LIST_SUFFIXES"]

#: The per-file completion marker, in the file's output folder.
MARKER = ".livesep-done.json"
#: The manifest of a run, in the output folder.
MANIFEST = "manifest.json"
#: A text file with one input path per line.
LIST_SUFFIXES = (".txt", ".lst", ".list")
#: Seconds between rewrites of the manifest while a batch runs.
_MANIFEST_EVERY = 5.0

#: ``job(input_file, output_folder) -> (outputs written, seconds of audio)``; it must write
#: every output atomically and may raise for a bad input.
Job = Callable[[Path, Path], tuple[Sequence[Path], float]]


@dataclass(frozen=True)
class BatchItem:
    """One input file and the folder its outputs go to."""

    source: Path
    out_dir: Path


@dataclass(frozen=True)
class FileRecord:
    """What became of one input.

    Attributes
    ----------
    input : str
        The input file.
    outputs : list of str
        The files written for it (empty on error).
    seconds : float
        Its duration (0 on error).
    elapsed : float
        Wall-clock seconds the job took on its worker.
    rtf : float
        Real-time factor, ``elapsed / seconds`` (below 1 is faster than real time).
    error : str or None
        Why it failed, in one line naming the file.
    resumed : bool
        Finished by an earlier run, skipped by this one.
    """

    input: str
    outputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    elapsed: float = 0.0
    rtf: float = 0.0
    error: str | None = None
    resumed: bool = False


@dataclass(frozen=True)
class BatchResult:
    """A run's records (in the inputs' order) and its manifest file."""

    records: list[FileRecord]
    manifest: Path

    @property
    def failed(self) -> list[FileRecord]:
        """The records with an error."""
        return [record for record in self.records if record.error is not None]


def is_batch_input(spec: str) -> bool:
    """Whether ``spec`` names many inputs: a folder, a list file or a glob pattern that is
    not an existing file."""
    path = Path(spec)
    if path.is_dir() or (path.is_file() and path.suffix.lower() in LIST_SUFFIXES):
        return True
    return not path.exists() and glob.has_magic(spec)


def batch_items(spec: str, out_dir: str | os.PathLike[str]) -> list[BatchItem]:
    """The inputs named by ``spec`` and where each one's outputs go.

    Parameters
    ----------
    spec : str
        A folder (its audio files, recursively), a glob pattern (``'in/**/*.wav'``) or a
        list file (``.txt``, ``.lst``, ``.list``: one path per line, relative to the list's
        folder; blank lines and ``#`` comments are ignored).
    out_dir : path-like
        Root of the output tree: ``in/a/b.wav`` goes to ``out_dir/a/b/`` (the path below the
        inputs' common folder, without its extension). Files inside it are not inputs.

    Returns
    -------
    list of BatchItem
        Sorted by input path.

    Raises
    ------
    ParameterError
        If two inputs would share an output folder (``a.wav`` and ``a.flac``).
    AudioFileError
        If nothing is found or a listed file does not exist.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a.wav", "sub/b.flac"):
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     _ = (root / name).write_bytes(b"")
    >>> [str(item.out_dir.relative_to(root / "out")) for item in batch_items(str(root),
    ...                                                                           root / "out")]
    ['a', 'sub/b']
    """
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*")
                       if p.is_file() and p.suffix.lower() in audio.AUDIO_EXTENSIONS)
        root = path
    else:
        if path.is_file():
            files = [_listed(path, line) for line in path.read_text().splitlines()
                     if line.strip() and not line.lstrip().startswith("#")]
        else:
            files = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
        root = Path(os.path.commonpath([f.resolve().parent for f in files])) if files else path
        files = [f.resolve() for f in files]
    # Stems of an earlier run written below the inputs are not inputs.
    out = Path(out_dir).resolve()
    files = [f for f in files if not f.resolve().is_relative_to(out)]
    if not files:
        raise AudioFileError(f"{spec}: no audio files found (looked for "
                             f"{', '.join(audio.AUDIO_EXTENSIONS)})")
    items = [BatchItem(f, Path(out_dir) / f.relative_to(root).with_suffix("")) for f in files]
    seen: dict[Path, Path] = {}
    for item in items:
        if item.out_dir in seen:
            raise ParameterError(f"{seen[item.out_dir]} and {item.source} would write to the "
                                 f"same folder {item.out_dir}; rename one")
        seen[item.out_dir] = item.source
    return sorted(items, key=lambda item: str(item.source))


def _listed(list_file: Path, line: str) -> Path:
    file = list_file.parent / line.strip()
    if not file.is_file():
        raise AudioFileError(f"{list_file}: lists {line.strip()!r}, which is not a file")
    return file


def finished_record(item: BatchItem) -> FileRecord | None:
    """The record of an earlier run that finished ``item``, or None."""
    try:
        fields = json.loads((item.out_dir / MARKER).read_text())
        record = FileRecord(**{**fields, "resumed": True})
    except (OSError, ValueError, TypeError):
        return None
    if not all(Path(output).is_file() for output in record.outputs):
        return None
    return record


def run_item(item: BatchItem, *, job: Job) -> FileRecord:
    """Run ``job`` on one input (on a worker): clean its folder of an interrupted write, time
    it, and write its marker last. Errors become the record's ``error``."""
    folder = item.out_dir
    started = time.perf_counter()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).unlink(missing_ok=True)
        for leftover in folder.glob(".livesep-*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        for leftover in folder.glob(".*.part"):
            leftover.unlink(missing_ok=True)
        outputs, seconds = job(item.source, folder)
    except Exception as error:  # a file the readers choke on must not stop the batch
        _remove_if_empty(folder)
        text = (str(error).strip().splitlines() or [""])[0]
        message = str(error) if isinstance(error, LivesepError) else \
            f"{item.source}: {type(error).__name__}: {text}"
        return FileRecord(input=str(item.source), error=message,
                          elapsed=time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    record = FileRecord(input=str(item.source), outputs=[str(o) for o in outputs],
                        seconds=seconds, elapsed=elapsed,
                        rtf=elapsed / seconds if seconds > 0 else 0.0)
    text = json.dumps(asdict(record), indent=1)
    atomic_write(folder / MARKER, lambda name: Path(name).write_text(text),
                 error=AudioFileError)
    return record


def _remove_if_empty(folder: Path) -> None:
    """A failed file leaves no folder of its own behind (one with other files stays)."""
    try:
        folder.rmdir()
    except OSError:
        pass


def run_batch(items: Sequence[BatchItem], job: Job, *, out_dir: str | os.PathLike[str],
              client: Any | None = None, overwrite: bool = False,
              settings: Mapping[str, Any] | None = None,
              progress: Progress | None = None) -> BatchResult:
    """Run ``job`` on every item not finished yet, in parallel on ``client``'s cluster.

    Parameters
    ----------
    items : sequence of BatchItem
        From :func:`batch_items`.
    job : callable
        ``job(input, folder) -> (outputs, seconds)``; must be picklable for a cluster (a
        module-level function or a ``functools.partial`` of one).
    out_dir : path-like, keyword-only
        Where the manifest (``manifest.json``) is written.
    client : distributed.Client, optional, keyword-only
        The cluster; None runs the jobs one after another in this process.
    overwrite : bool, keyword-only
        Redo finished files too.
    settings : mapping, optional, keyword-only
        Stored in the manifest (what the job was asked to do).
    progress : callable, optional, keyword-only
        Fraction of the files done (finished ones count at once).

    Returns
    -------
    BatchResult
        Records in the items' order; failed files are records with an ``error``, never an
        exception.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("x")
    >>> def copy(source, folder):
    ...     return [pathlib.Path(shutil.copy(source, folder))], 1.0
    >>> items = [BatchItem(root / "a.txt", root / "out" / "a")]
    >>> run_batch(items, copy, out_dir=root / "out").records[0].outputs[0].endswith("a.txt")
    True
    >>> run_batch(items, copy, out_dir=root / "out").records[0].resumed
    True
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records: list[FileRecord | None] = [
        None if overwrite else finished_record(item) for item in items]
    todo = [index for index, record in enumerate(records) if record is None]
    manifest = out / MANIFEST

    def save() -> None:
        write_manifest(manifest, [r for r in records if r is not None], settings=settings,
                       wall=time.perf_counter() - started, total=len(items))

    def report() -> None:
        if progress is not None and items:
            progress(sum(r is not None for r in records) / len(items))

    report()
    task = partial(run_item, job=job)
    last_save = time.perf_counter()
    if client is None:
        for index in todo:
            records[index] = task(items[index])
            report()
    else:
        from distributed import as_completed

        futures = {client.submit(task, items[index], pure=False): index for index in todo}
        for future in as_completed(futures):
            index = futures[future]
            try:
                records[index] = future.result()
            except Exception as error:  # e.g. KilledWorker: the file crashed every worker
                records[index] = FileRecord(
                    input=str(items[index].source),
                    error=f"{items[index].source}: the cluster lost its task "
                          f"({type(error).__name__}: {error})")
            report()
            if time.perf_counter() - last_save > _MANIFEST_EVERY:
                save()
                last_save = time.perf_counter()
    save()
    return BatchResult(records=[r for r in records if r is not None], manifest=manifest)


def write_manifest(path: Path, records: Sequence[FileRecord], *,
                   settings: Mapping[str, Any] | None, wall: float, total: int) -> Path:
    """The JSON manifest: settings, one entry per input, and totals (written atomically)."""
    done = [r for r in records if r.error is None]
    seconds = sum(r.seconds for r in done)
    busy = sum(r.elapsed for r in records if not r.resumed)
    content = {
        "format": "livesep-batch", "version": 1, "settings": dict(settings or {}),
        "summary": {"inputs": total, "finished": len(done),
                    "resumed": sum(r.resumed for r in records),
                    "failed": len(records) - len(done), "pending": total - len(records),
                    "audio_seconds": round(seconds, 3), "wall_seconds": round(wall, 3),
                    "worker_seconds": round(busy, 3)},
        "files": [asdict(r) for r in records],
    }
    text = json.dumps(content, indent=1)
    return atomic_write(path, lambda name: Path(name).write_text(text), error=AudioFileError)
