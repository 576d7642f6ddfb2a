"""Readable reports of an evaluation: a rich table, a JSON file and a PNG chart.

The chart is drawn on a matplotlib ``Figure`` with the Agg canvas directly (no pyplot, no
global backend switch), so it is safe inside the GUI's process too.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from livesep.errors import AudioFileError, ParameterError
from livesep.evaluation import metrics
from livesep.evaluation.evaluate import METRICS, Evaluation, MethodScores
from livesep.files import atomic_write

__all__ = ["evaluation_table", "write_json", "plot_evaluation", "METHOD_LABELS"]

#: How each method is named in tables and charts.
METHOD_LABELS = {"online": "online", "offline": "offline", "mixture": "mixture (floor)",
                 "irm": "IRM (ceiling)"}
_COLOURS = {"online": "#1f77b4", "offline": "#2ca02c", "mixture": "#7f7f7f", "irm": "#ff7f0e"}
_DB = ("sdr", "sir", "sar", "si_sdr")


def _cell(metric: str, value: float) -> str:
    if math.isnan(value):
        return "–"
    if metric in _DB:
        return f"≥{metrics.CLAMP_DB:.0f}" if value >= metrics.CLAMP_DB else f"{value:.2f}"
    return f"{value:.3f}" if metric == "stoi" else f"{value:.2f}"


def _method_cell(result: MethodScores | None, method: str) -> str:
    label = "  " + METHOD_LABELS.get(method, method)
    if result is not None and result.swapped:
        order = ",".join(str(p) for p in result.permutation)
        return f"{label} [bold red]SWAPPED ({order})[/]"
    return label


def _speed(evaluation: Evaluation) -> str:
    audio = sum(f.seconds for f in evaluation.files)
    parts = [f"{method} {sum(f.methods[method].seconds for f in evaluation.files) / audio:.3f}"
             for method in evaluation.methods if method in ("online", "offline")]
    return f" Separation time per second of audio: {', '.join(parts)}." if parts else ""


def _caption(evaluation: Evaluation, columns: Sequence[str]) -> str:
    parts = []
    bss = [METRICS[c] for c in columns if c in ("sdr", "sir", "sar")]
    if bss:
        parts.append(f"{', '.join(bss)}: BSS Eval under the best permutation of the outputs")
    if any(c in _DB for c in columns):
        parts.append(f"decibels clamped to ±{metrics.CLAMP_DB:.0f}")
    if any(c in ("stoi", "pesq") for c in columns):
        parts.append(f"STOI and wideband PESQ for speech sources "
                     f"({', '.join(evaluation.speech) or 'none'})")
    return "; ".join(parts) + "." + _speed(evaluation)


def evaluation_table(evaluation: Evaluation, *, per_file: bool = True,
                     columns: Sequence[str] | None = None) -> object:
    """A rich ``Table``: each file's figures per method and source, then the means.

    Parameters
    ----------
    evaluation : Evaluation
    per_file : bool, keyword-only
        Show every file, not only the means (always shown for one file).
    columns : sequence of str, optional, keyword-only
        The figures to show, keys of :data:`~livesep.evaluation.evaluate.METRICS` (``"sdr"``,
        ``"sir"``, ...); by default all of them, without STOI and PESQ when no source is
        speech.

    Returns
    -------
    rich.table.Table
    """
    from rich import box
    from rich.table import Table

    if columns is None:
        columns = [m for m in METRICS if evaluation.speech or m not in ("stoi", "pesq")]
    unknown = [c for c in columns if c not in METRICS]
    if unknown or not columns:
        raise ParameterError(f"columns must be among {', '.join(METRICS)}, got "
                             f"{', '.join(map(repr, columns)) or 'none'}")

    n_files = len(evaluation.files)
    table = Table(
        title=f"{evaluation.preset}: {n_files} mixture{'s' * (n_files != 1)}",
        caption=_caption(evaluation, columns),
        box=box.SIMPLE_HEAD, caption_justify="left", pad_edge=False)
    table.add_column("mixture / method", overflow="fold")
    table.add_column("source", no_wrap=True)
    for metric in columns:
        table.add_column(METRICS[metric], justify="right", no_wrap=True)

    def add_method(method: str, result: MethodScores | None,
                   value: Callable[[str, str], float], style: str | None = None) -> None:
        for index, source in enumerate(evaluation.source_names):
            table.add_row(_method_cell(result, method) if index == 0 else "", source,
                          *[_cell(metric, value(metric, source)) for metric in columns],
                          style=style)

    if per_file or n_files == 1:
        for file in evaluation.files:
            table.add_row(f"[bold]{file.name}[/]")
            for method in evaluation.methods:
                result = file.methods[method]
                add_method(method, result,
                           lambda metric, source, r=result: getattr(r.sources[source], metric))
            table.add_section()
    if n_files > 1:
        table.add_row(f"[bold]mean of {n_files} mixtures[/]")
        for method in evaluation.methods:
            add_method(method, None,
                       lambda metric, source, m=method: evaluation.mean(m, metric, source),
                       style="bold")
            swapped = sum(f.methods[method].swapped for f in evaluation.files)
            if swapped:
                table.add_row(f"  [bold red]{swapped} of {n_files} SWAPPED[/]")
    return table


def write_json(evaluation: Evaluation, path: str | os.PathLike[str]) -> Path:
    """Write :meth:`Evaluation.to_dict` as indented JSON (NaN as null); returns the path."""
    text = json.dumps(evaluation.to_dict(), indent=1, allow_nan=False) + "\n"
    return atomic_write(path, lambda name: Path(name).write_text(text, encoding="utf-8"),
                        error=AudioFileError)


def plot_evaluation(evaluation: Evaluation, path: str | os.PathLike[str]) -> Path:
    """A PNG chart: one panel per figure, a group of bars per source, a bar per method.

    Bars are means over the files; dots are the files. STOI and PESQ panels show the speech
    sources only.

    Returns
    -------
    Path
        The written file.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(14, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 3).ravel()
    methods = evaluation.methods
    width = 0.8 / len(methods)
    for ax, (metric, label) in zip(axes, METRICS.items()):
        names = (evaluation.speech if metric in ("stoi", "pesq")
                 else evaluation.source_names)
        names = [n for n in names if n in evaluation.source_names]
        if not names:
            ax.set_axis_off()
            ax.set_title(f"{label}: no speech source")
            continue
        for m, method in enumerate(methods):
            x = np.arange(len(names)) + (m - (len(methods) - 1) / 2) * width
            means = np.array([evaluation.mean(method, metric, name) for name in names])
            unbounded = means >= metrics.CLAMP_DB  # e.g. the mixture's artefact-free SAR
            ax.bar(x, np.where(unbounded, 0.0, np.nan_to_num(means, nan=0.0)), width * 0.9,
                   color=_COLOURS.get(method), label=METHOD_LABELS.get(method, method))
            for position in x[unbounded]:
                ax.annotate("∞", (position, 0.0), ha="center", va="bottom",
                            color=_COLOURS.get(method))
            for i, name in enumerate(names):
                points = [getattr(f.methods[method].sources[name], metric)
                          for f in evaluation.files]
                points = [v for v in points if v < metrics.CLAMP_DB]
                ax.plot(np.full(len(points), x[i]), points, ".", color="black",
                        markersize=3, alpha=0.6)
        ax.set_xticks(np.arange(len(names)), names)
        ax.set_title(label + (" (dB)" if metric in _DB else ""))
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize="small")
    swaps = len(evaluation.swaps)
    figure.suptitle(f"{evaluation.preset} on {len(evaluation.files)} mixtures"
                    + (f" — {swaps} separation(s) SWAPPED their outputs" if swaps else ""),
                    color="red" if swaps else "black")
    return atomic_write(path, lambda name: figure.savefig(name, format="png"),
                        error=AudioFileError)
