"""Options several commands share, and what they turn into: engine settings from
``--beam`` / ``--iterations``, per-source values (``--states 20 --states noise=4``)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from livesep.engine import LATENCIES, EngineSettings
from livesep.errors import ParameterError

__all__ = ["add_cluster", "add_quality", "add_strength", "cluster_settings", "engine_settings",
           "per_source_floats", "per_source_ints", "strength"]

Number = TypeVar("Number", int, float)


def add_quality(parser: argparse.ArgumentParser) -> None:
    """Add ``--beam``, ``--iterations`` (the engine's work per frame), ``--latency``,
    ``--bands-above`` and ``--smoothing``."""
    parser.add_argument("--beam", type=int, default=None, metavar="B",
                        help="joint states evaluated per frame, 0 for all (default: 128)")
    parser.add_argument("--iterations", type=int, default=None, metavar="N",
                        help="activation updates per fit and frame (default: 10 per joint "
                             "state for N-HMM presets, 100 for NMF presets)")
    parser.add_argument("--latency", choices=tuple(LATENCIES), default="standard",
                        help="the engine's algorithmic latency: standard (the preset's frames, "
                             "32 ms for the shipped 16 kHz presets), low (at most 8 ms) or "
                             "ultra (at most 3 ms); low and ultra run more, shorter frames, "
                             "at more cost (default: %(default)s)")
    parser.add_argument("--bands-above", type=float, default=None, metavar="HZ",
                        help="fit the activations on bands of 1/12 octave above this "
                             "frequency instead of on every bin: cheaper, most of all at 44.1 "
                             "and 48 kHz; the masks keep every bin (default: the preset's "
                             "own, as voice-48k's 8000 Hz, else every bin)")
    parser.add_argument("--smoothing", type=float, default=None, metavar="SECONDS",
                        help="time constant of the masks' smoothing over time, against "
                             "flicker (musical noise); 0 for none (default: 0.03 for NMF and "
                             "unfolded presets such as voice at standard latency, otherwise "
                             "0)")


def add_strength(parser: argparse.ArgumentParser) -> None:
    """Add ``--strength`` (percent of the separation)."""
    parser.add_argument("--strength", type=float, default=100.0, metavar="PERCENT",
                        help="how far the separation goes, 0 to 100: at 0 the first source "
                             "(the voice) is the input unchanged and the others are silent, "
                             "in between the noise is turned down only partly; in a quiet "
                             "room 60 to 80 keeps more of the voice (default: %(default)g)")


def add_cluster(parser: argparse.ArgumentParser, when: str) -> None:
    """Add ``--scheduler`` and ``--workers`` (where work over many files runs); ``when``
    says when they apply."""
    group = parser.add_argument_group(
        f"cluster ({when})",
        # Line breaks for the commands whose help keeps its text as written (train's).
        "The work runs on Dask: by default on a local cluster started for the run, one\n"
        "single-threaded worker process per core; --scheduler uses an existing cluster,\n"
        "whose workers must see the same files at the same paths (see docs/cluster.md).")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://host:8786")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes of the local cluster (default: one per core)")


def cluster_settings(args: argparse.Namespace) -> Any:
    """The cluster of ``--scheduler`` / ``--workers``."""
    from livesep.scale import ClusterSettings

    return ClusterSettings(scheduler=args.scheduler, workers=args.workers)


def strength(args: argparse.Namespace) -> float:
    """``--strength`` as a fraction, checked."""
    if not 0.0 <= args.strength <= 100.0:
        raise ParameterError(f"--strength must be a percentage in [0, 100], got "
                             f"{args.strength:g}")
    return args.strength / 100.0


def engine_settings(args: argparse.Namespace) -> EngineSettings:
    """Engine settings from --beam / --iterations / --latency / --bands-above /
    --smoothing, defaults otherwise."""
    defaults = EngineSettings()
    return replace(defaults, beam=defaults.beam if args.beam is None else args.beam,
                   n_iter=args.iterations, latency=args.latency,
                   bands_above=args.bands_above, smoothing=args.smoothing)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _per_source(option: str, values: list[str], parse: Callable[[str], Number],
                kind: str, *, default_allowed: bool) -> tuple[Number | None, dict[str, Number]]:
    """Parse ``NAME=VALUE`` items (and bare defaults when allowed) with *parse*."""
    default: Number | None = None
    per_source: dict[str, Number] = {}
    for value in values:
        name, separator, number = value.rpartition("=")
        try:
            parsed = parse(number)
        except ValueError:
            parsed = None
        named = bool(separator and name.strip())
        if parsed is None or (separator and not named) or not (named or default_allowed):
            expected = (f"an {kind.lower()} or NAME={kind}" if default_allowed
                        else f"NAME={kind}")
            raise ParameterError(f"{option} must be {expected}, got {value!r}")
        if named:
            per_source[name.strip()] = parsed
        else:
            default = parsed
    return default, per_source


def per_source_floats(option: str, values: list[str]) -> dict[str, float]:
    """``["noise=30"]`` → {"noise": 30.0}: values for named sources only."""
    return _per_source(option, values, _finite, "NUMBER", default_allowed=False)[1]


def per_source_ints(option: str, values: list[str]) -> tuple[int | None, dict[str, int]]:
    """``["20", "noise=4"]`` → (20, {"noise": 4}): a default and per-source values."""
    return _per_source(option, values, int, "INTEGER", default_allowed=True)
