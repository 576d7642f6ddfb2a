"""``livesep separate``: an audio file into one file per source, with a preset (the default
voice preset unless named) or blindly (``--model nmf2d|nmfd --sources N``, no training); many
files (a folder, a glob or a list) as a resumable batch on a Dask cluster."""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from livesep.cli.options import (
    add_cluster,
    add_quality,
    add_strength,
    cluster_settings,
    engine_settings,
    strength,
)
from livesep.cli.output import fraction_bar
from livesep.errors import LivesepError, ParameterError

__all__ = ["add_separate"]


def add_separate(commands: argparse._SubParsersAction) -> None:
    separate = commands.add_parser(
        "separate", help="separate an audio file into one file per source",
        description="Separate MIX into DIR/<source>.wav, one file per source of the preset "
                    "(or, blindly with --model, DIR/source1.wav ...), with the input's rate "
                    "and length, aligned sample for sample.",
        epilog="Many inputs: when MIX is a folder, a quoted glob ('in/**/*.wav') or a list "
               "file (.txt, .lst or .list, one path per line), every file is separated in "
               "parallel on a Dask cluster into a tree that mirrors the inputs': in/a/b.wav "
               "goes to DIR/a/b/<source>.wav. Each file's stems appear complete or not at "
               "all; a rerun skips the files finished before and redoes the others. "
               "DIR/manifest.json lists inputs, outputs, durations, real-time factors and "
               "errors; a file that cannot be separated is reported at the end and makes the "
               "exit status 1, without stopping the others.")
    separate.add_argument("mixture", metavar="MIX",
                          help="the audio file to separate, or a folder, glob or list of them")
    separate.add_argument("--preset", default=None, metavar="P",
                          help="a preset file, or the name of a shipped preset (default: the "
                               "voice preset, a voice in any noise: voice-48k, its full-band "
                               "version, for a file at 44.1 kHz or above (for many files: "
                               "if any is), else voice; or --model for blind separation)")
    separate.add_argument("--out-dir", required=True, metavar="DIR",
                          help="folder for the stems (created if missing)")
    separate.add_argument("--mode", choices=("online", "offline"), default="online",
                          help="online: the causal engine, block by block exactly as live; "
                               "offline: the non-causal batch reference (default: %(default)s)")
    add_quality(separate)
    add_strength(separate)
    separate.add_argument("--blocksize", type=int, default=512, metavar="N",
                          help="engine block size in online mode; the result does not depend "
                               "on it (default: %(default)s)")
    separate.add_argument("--overwrite", action="store_true",
                          help="replace stems that already exist in DIR")
    separate.add_argument("--per-state", action="store_true",
                          help="also write each N-HMM state's signal, DIR/<source>.state<q>.wav "
                               "(offline mode)")
    separate.add_argument("--state-gain", action="append", default=[],
                          metavar="NAME:STATE=GAIN",
                          help="a linear gain on one state of one source, e.g. piano:1=0 "
                               "mutes state 1 of the piano (offline mode; repeatable)")
    separate.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    add_cluster(separate, "many inputs only")
    add_blind_options(separate)
    separate.set_defaults(handler=_run_separate)


def _run_separate(args: argparse.Namespace) -> int:
    from livesep import audio, presets
    from livesep.presets.shipped import default_preset, resolve_preset
    from livesep.scale.batch import is_batch_input
    from livesep.separation.files import separate_file

    batch = is_batch_input(args.mixture)
    if wants_blind(args):
        if batch:
            raise ParameterError(f"--model {args.model} (blind) separates one file at a time; "
                                 f"{args.mixture} names many")
        return run_blind_separate(args)
    if batch:
        return _run_batch(args)
    if args.scheduler is not None or args.workers is not None:
        raise ParameterError(f"--scheduler and --workers run a batch (MIX a folder, glob or "
                             f"list of files); {args.mixture} is one file")
    # A missing or unreadable input fails before any progress bar; its rate picks the default.
    rate = audio.info(args.mixture).sr
    preset = presets.load(resolve_preset(args.preset or default_preset(rate)))
    with fraction_bar(f"separating ({args.mode})", enabled=not args.quiet) as update:
        report = separate_file(args.mixture, preset, args.out_dir, mode=args.mode,
                               settings=engine_settings(args), block_size=args.blocksize,
                               strength=strength(args),
                               overwrite=args.overwrite, per_state=args.per_state,
                               state_gains=_state_gains(args.state_gain), progress=update)
    if not args.quiet:
        if report.channels_mixed_down:
            print(f"note: the input has {report.channels_mixed_down} channels; separated their "
                  "mono mix", file=sys.stderr)
        if report.resampled_from:
            lost = (f" (the stems hold nothing above {preset.sr // 2} Hz)"
                    if preset.sr < report.resampled_from else "")
            print(f"note: the input is at {report.resampled_from} Hz; separated at the preset's "
                  f"{preset.sr} Hz and written back at {report.resampled_from} Hz{lost}",
                  file=sys.stderr)
    for stem in report.stems:
        print(stem)
    return 0


def _highest_rate(items: list[Any]) -> int | None:
    """The highest rate among the batch's readable inputs (None if none is): one preset runs
    them all, and the full-band default keeps the band above 8 kHz of those that have it."""
    from livesep import audio

    rates = []
    for item in items:
        try:
            rates.append(audio.info(item.source).sr)
        except LivesepError:  # the batch reports the file as failed
            continue
    return max(rates, default=None)


def _run_batch(args: argparse.Namespace) -> int:
    from livesep.files import check_output_folder
    from livesep.presets.shipped import default_preset, resolve_preset
    from livesep.scale import batch_items, dask_client, run_batch

    out_dir = check_output_folder(args.out_dir, error=ParameterError)
    items = batch_items(args.mixture, out_dir)
    preset = resolve_preset(args.preset or default_preset(_highest_rate(items)))
    load_cached(str(preset))  # a bad preset fails here, not on every worker
    job = partial(separate_job, preset=str(preset), mode=args.mode,
                  settings=engine_settings(args), block_size=args.blocksize,
                  strength=strength(args), per_state=args.per_state,
                  state_gains=_state_gains(args.state_gain))
    recorded = {"preset": str(preset), "mode": args.mode, "inputs": args.mixture,
                "strength": args.strength, "blocksize": args.blocksize}
    with dask_client(cluster_settings(args)) as client, \
            fraction_bar(f"separating {len(items)} files", enabled=not args.quiet) as update:
        result = run_batch(items, job, out_dir=out_dir, client=client,
                           overwrite=args.overwrite, settings=recorded, progress=update)
    resumed = sum(record.resumed for record in result.records)
    done = len(result.records) - len(result.failed)
    print(f"separated {done - resumed} file(s), {resumed} finished before, "
          f"{len(result.failed)} failed; manifest: {result.manifest}", file=sys.stderr)
    for record in result.failed:
        print(f"failed: {record.error}", file=sys.stderr)
    print(result.manifest)
    return 1 if result.failed else 0


@lru_cache(maxsize=4)
def load_cached(preset: str) -> Any:
    """A preset file, loaded once per process (each worker of a batch)."""
    from livesep import presets

    return presets.load(preset)


def separate_job(source: Path, folder: Path, *, preset: str, **options: Any
                 ) -> tuple[list[Path], float]:
    """One file of a batch: its stems into ``folder``, replacing unfinished ones."""
    from livesep.separation.files import separate_file

    report = separate_file(source, load_cached(preset), folder, overwrite=True, **options)
    return list(report.stems), report.seconds


def _state_gains(specs: list[str]) -> dict[str, dict[int, float]]:
    """``["piano:1=0"]`` → ``{"piano": {1: 0.0}}``."""
    gains: dict[str, dict[int, float]] = {}
    for spec in specs:
        name, _, rest = spec.rpartition(":")
        state, equals, gain = rest.partition("=")
        try:
            if not name or not equals:
                raise ValueError
            gains.setdefault(name, {})[int(state)] = float(gain)
        except ValueError:
            raise ParameterError(f"--state-gain must be NAME:STATE=GAIN, e.g. piano:1=0, got "
                                 f"{spec!r}") from None
    return gains


# --------------------------------------------------------------------------- blind

#: livesep.separation.blind.BLIND_MODELS, repeated so that building the parser stays light (the
#: models import scipy); a test checks they agree.
BLIND_MODELS = ("nmf2d", "nmfd")
#: livesep.separation.blind.BlindSettings()'s n_iter, n_lags, n_shifts and n_starts, for the
#: same reason.
DEFAULT_ITERATIONS = 500
DEFAULT_TIME_LAGS = 7
DEFAULT_PITCH_SHIFTS = 36
DEFAULT_STARTS = 8


def add_blind_options(separate: argparse.ArgumentParser) -> None:
    """Add the blind-separation options to the ``separate`` parser."""
    group = separate.add_argument_group(
        "blind separation (no preset)",
        "Separate instruments without training by NMF2D (Schmidt & Mørup 2006): each factor "
        "of a log-frequency spectrogram, convolutive in time and pitch, is one source. Writes "
        "DIR/source1.wav, source2.wav, ... ordered by pitch, lowest first. --iterations sets "
        f"the factorisation's iterations (default: {DEFAULT_ITERATIONS}); --mode, --beam and "
        "--blocksize do not apply.")
    group.add_argument("--model", choices=BLIND_MODELS, default=None,
                       help="nmf2d: one factor per instrument, shifted in pitch; nmfd: no "
                            "pitch shift (one factor per source, so best for unpitched or "
                            "single-note sources)")
    group.add_argument("--sources", type=int, default=2, metavar="S",
                       help="how many sources to separate (default: %(default)s)")
    group.add_argument("--cost", choices=("ls", "kl"), default="ls",
                       help="least squares (the paper's) or KL divergence (default: "
                            "%(default)s)")
    group.add_argument("--time-lags", type=int, default=DEFAULT_TIME_LAGS, metavar="N",
                       help="frames (64 ms each) every source's signature spans: a note's "
                            "attack and early decay. 3 to 7 (0.2-0.45 s) did equally well on "
                            "rendered songs; 12 lost about 3 dB (a long signature fits "
                            "several notes of either instrument), 1 about 1 dB "
                            "(default: %(default)s)")
    group.add_argument("--pitch-shifts", type=int, default=DEFAULT_PITCH_SHIFTS, metavar="N",
                       help="pitch shifts in quarter tones (24 per octave) for nmf2d: two per "
                            "semitone of the range the widest-playing instrument covers "
                            "(36: an octave and a half). Too few and a factor cannot follow "
                            "its instrument's notes (the paper's 12: +6.6 dB over the mixture "
                            "on the tuning songs, 36: +13.2 dB); many more let it take the "
                            "other instrument's notes too (48: +12.0 dB) (default: %(default)s)")
    group.add_argument("--starts", type=int, default=DEFAULT_STARTS, metavar="N",
                       help="random starts of the factorisation, the best fit kept; the fit "
                            "has many local optima (default: %(default)s)")
    group.add_argument("--seed", type=int, default=0,
                       help="seed of the initialisation (default: %(default)s)")


def wants_blind(args: argparse.Namespace) -> bool:
    """Whether ``separate`` runs blind (``--model``); raises if a preset is given too."""
    if args.model is not None and args.preset is not None:
        raise ParameterError(f"--preset and --model {args.model} exclude each other: a preset "
                             "separates its trained sources, --model separates blindly")
    return args.model is not None


def run_blind_separate(args: argparse.Namespace) -> int:
    """Run ``separate --model ...``: write the stems and print their paths."""
    if args.sources < 1:
        raise ParameterError(f"--sources must be >= 1, got {args.sources}")
    if args.iterations is not None and args.iterations < 0:
        raise ParameterError(f"--iterations must be >= 0, got {args.iterations}")
    from livesep.separation.blind import BlindSettings, separate_blind_file

    settings = BlindSettings(model=args.model, n_sources=args.sources, cost=args.cost,
                             n_lags=args.time_lags, n_shifts=args.pitch_shifts,
                             n_starts=args.starts, seed=args.seed,
                             n_iter=DEFAULT_ITERATIONS if args.iterations is None
                             else args.iterations)
    with fraction_bar("separating (blind)", enabled=not args.quiet) as update:
        stems = separate_blind_file(args.mixture, args.out_dir, settings=settings,
                                    overwrite=args.overwrite, progress=update)
    for stem in stems:
        print(stem)
    return 0
