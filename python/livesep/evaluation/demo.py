"""``livesep demo``: the bundled recording through the live engine, with pictures and scores.

The bundled material (``data/demo``) is a few seconds of two allowed readers talking at
once, with each reader's own recording as the reference; the bundled preset knows both
voices. The engine runs block by block exactly as it would on a microphone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from livesep import audio, presets, spectral
from livesep.bundled import demo_material_dir
from livesep.engine import EngineSettings, create_separator
from livesep.errors import AudioFileError
from livesep.files import atomic_write
from livesep.presets import Preset
from livesep.presets.shipped import resolve_preset
from livesep.separation.files import write_stems

__all__ = ["DemoRun", "run_demo", "separate_with_snapshots"]


@dataclass(frozen=True)
class DemoRun:
    """What :func:`run_demo` produced."""

    stems: tuple[Path, ...]
    figure: Path
    scores: Path
    table: object


def separate_with_snapshots(y: npt.NDArray[np.float32], preset: Preset, *, block_size: int,
                            settings: EngineSettings | None = None
                            ) -> tuple[npt.NDArray[np.float32], dict[str, np.ndarray]]:
    """Separate online as live and keep every frame's display snapshot.

    Returns
    -------
    stems : np.ndarray, shape (n_sources, n), float32
        Aligned with ``y`` (latency removed).
    snapshots : dict
        ``spectrum`` (T, F), ``masks`` (T, S, F), ``marginals`` (T, S, Q_max).
    """
    separator = create_separator(preset, settings=settings)
    latency = separator.latency_samples()
    padded = np.concatenate([y, np.zeros(latency, dtype=np.float32)])
    outputs, snapshots = [], []
    for start in range(0, padded.size, block_size):
        outputs.append(separator.process(padded[start:start + block_size]))
        snapshots.append(separator.pop_snapshots())
    stems = np.concatenate(outputs, axis=1)[:, latency:]
    n_states = max(source.n_states for source in preset.sources)
    joined = {key: np.concatenate([s[key] for s in snapshots]) for key in
              ("spectrum", "masks", "marginals")}
    joined["marginals"] = joined["marginals"][:, :, :n_states]
    return stems, joined


def run_demo(*, out_dir: str | os.PathLike[str] = "livesep-demo", block_size: int = 128
             ) -> DemoRun:
    """Separate the bundled recording; write stems, a picture and scores into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like, keyword-only
        Created if missing; earlier demo results in it are replaced.
    block_size : int, keyword-only
        Samples per engine call, as a live stream would deliver them.

    Returns
    -------
    DemoRun
    """
    from livesep.evaluation.evaluate import Evaluation, evaluate_signals
    from livesep.evaluation.report import evaluation_table, write_json

    material = demo_material_dir()
    meta = json.loads((material / "demo.json").read_text())
    preset = presets.load(resolve_preset(meta["preset"]))
    mixture, sr = audio.load(material / "mix.flac", sr=preset.sr)
    references = np.stack([audio.load(material / f"{name}.flac", sr=preset.sr)[0]
                           for name in preset.source_names])
    stems, snapshots = separate_with_snapshots(mixture, preset, block_size=block_size)
    folder = Path(out_dir)
    written = write_stems(stems, [folder / f"{name}.wav" for name in preset.source_names],
                          sr=preset.sr)
    audio.write(folder / "mix.wav", mixture, sr=preset.sr)
    figure = plot_demo(mixture, stems, snapshots, preset, folder / "demo.png")
    scores = evaluate_signals(mixture, references, preset,
                              methods=("online", "mixture", "irm"), block_size=block_size,
                              name="demo recording")
    evaluation = Evaluation.from_files(preset, [scores])
    scores_path = write_json(evaluation, folder / "scores.json")
    table = evaluation_table(evaluation, columns=["sdr", "sir", "sar"])
    return DemoRun(stems=tuple(written), figure=figure, scores=scores_path, table=table)


def plot_demo(mixture: np.ndarray, stems: np.ndarray, snapshots: dict[str, np.ndarray],
              preset: Preset, path: Path) -> Path:
    """Input spectrogram, live masks, state posteriors and separated spectrograms as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n_sources = preset.n_sources
    figure = Figure(figsize=(5.5 * n_sources, 12), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(4, n_sources)
    seconds = mixture.size / preset.sr
    extent = (0.0, seconds, 0.0, preset.sr / 2000.0)

    def spectrogram_db(y: np.ndarray) -> np.ndarray:
        magnitude = spectral.magnitude(y, n_fft=preset.n_fft, hop_length=preset.hop_length)
        return 20.0 * np.log10(np.maximum(magnitude, 1e-5))

    top = spectrogram_db(mixture).max()
    shown = dict(origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=top - 80,
                 vmax=top)
    axis = figure.add_subplot(grid[0, :])
    axis.imshow(spectrogram_db(mixture), **shown)
    axis.set(title="input (mixture)", ylabel="kHz")
    for s, name in enumerate(preset.source_names):
        axis = figure.add_subplot(grid[1, s])
        axis.imshow(snapshots["masks"][:, s, :].T, origin="lower", aspect="auto",
                    extent=extent, cmap="viridis", vmin=0.0, vmax=1.0)
        axis.set(title=f"live mask: {name}", ylabel="kHz")
        axis = figure.add_subplot(grid[2, s])
        states = preset.sources[s].n_states
        axis.imshow(snapshots["marginals"][:, s, :states].T, origin="lower", aspect="auto",
                    extent=(0.0, seconds, -0.5, states - 0.5), cmap="Greys", vmin=0.0,
                    vmax=1.0, interpolation="nearest")
        axis.set(title=f"state posterior: {name}", ylabel="state")
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis = figure.add_subplot(grid[3, s])
        axis.imshow(spectrogram_db(stems[s]), **shown)
        axis.set(title=f"separated: {name}", ylabel="kHz", xlabel="seconds")
    return atomic_write(path, lambda name: figure.savefig(name, format="png"),
                        error=AudioFileError)
