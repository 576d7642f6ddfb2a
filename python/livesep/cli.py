"""The ``livesep`` command line: one subcommand per job, errors as one line on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from livesep.engine import EngineSettings
from livesep.errors import LivesepError, ParameterError

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
livesep separates the sources in a single-channel sound (two speakers, a voice and the noise
around it, a bass and a drum kit) live, with models trained in advance on examples of each
source.

Start with `livesep demo`: it separates a bundled recording and writes the result."""

_NOT_BUILT = {
    "live": "separate the microphone live, headless",
    "gui": "open the desktop app",
    "devices": "list the audio devices",
    "bench": "measure the engine's speed",
    "eval": "score separations against references",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="livesep", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="separate the bundled demo recording and write the result",
        description="Run a bundled short real recording through the engine, block by block "
                    "as live, and write one WAV per source into the output folder.")
    demo.add_argument("--out-dir", default="livesep-demo", metavar="DIR",
                      help="folder for the results (default: %(default)s)")
    demo.add_argument("--blocksize", type=int, default=128, metavar="N",
                      help="samples per engine call, as a live stream would (default: "
                           "%(default)s)")
    demo.set_defaults(handler=_run_demo)

    _add_train(commands)
    _add_separate(commands)

    for name, summary in _NOT_BUILT.items():
        stub = commands.add_parser(name, help=f"{summary} (not built yet)",
                                   description=f"{summary[0].upper()}{summary[1:]}. "
                                               "Not built yet in this version.")
        stub.set_defaults(handler=_not_built(name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except LivesepError as error:
        print(f"livesep {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"livesep {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line for the user, the traceback on request
        if os.environ.get("LIVESEP_DEBUG"):
            traceback.print_exc()
        print(f"livesep {args.command}: internal error: {type(error).__name__}: {error} "
              "(set LIVESEP_DEBUG=1 for details and please report it)", file=sys.stderr)
        return 70


def _add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train a preset from isolated examples of each source",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a model of each source from isolated examples of it and save "
                    "them together as a preset the engine loads.",
        epilog="example:\n  livesep train --out voices.npz --source alice=alice/ "
               "--source bob=bob.wav,bob2.flac --model nhmm --components 10 --states 20")
    train.add_argument("--out", required=True, metavar="P.npz", help="the preset file to write")
    train.add_argument("--source", action="append", required=True, metavar="NAME=PATH[,PATH...]",
                       help="a source's name and its example audio files or folders of them "
                            "(repeat for each source)")
    train.add_argument("--model", choices=("nmf", "nhmm"), default="nhmm",
                       help="nmf: one dictionary per source; nhmm: one dictionary per state with "
                            "learned transitions (default: %(default)s)")
    train.add_argument("--components", type=int, default=None, metavar="K",
                       help="dictionary columns, per state for nhmm (default: 32 for nmf, 10 for "
                            "nhmm)")
    train.add_argument("--states", type=int, default=None, metavar="Q",
                       help="N-HMM states (default: 20; nmf has 1)")
    train.add_argument("--sr", type=int, default=16000, help="sample rate in Hz (default: "
                                                             "%(default)s)")
    train.add_argument("--n-fft", type=int, default=512, help="STFT frame (default: %(default)s)")
    train.add_argument("--hop", type=int, default=128, help="STFT hop (default: %(default)s)")
    train.add_argument("--iterations", type=int, default=None, metavar="N",
                       help="NMF updates or N-HMM EM iterations (default: 200 / 15)")
    train.add_argument("--beta", type=float, default=1.0,
                       help="NMF divergence: 0 Itakura-Saito, 1 KL, 2 Euclidean (default: "
                            "%(default)s)")
    train.add_argument("--seed", type=int, default=0, help="random seed; the same seed and data "
                                                           "give the same preset (default: 0)")
    train.add_argument("--name", default=None, help="the preset's title (default: the file name)")
    train.add_argument("--description", default="", help="free text stored in the preset")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(handler=_run_train)


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _parse_sources(specs: list[str]) -> dict[str, list[str]]:
    sources: dict[str, list[str]] = {}
    for spec in specs:
        name, separator, paths = spec.partition("=")
        name = name.strip()
        if not separator or not name or not paths.strip():
            raise ParameterError(f"--source must be NAME=PATH[,PATH...], got {spec!r}")
        if name.lower() in (known.lower() for known in sources):
            raise ParameterError(f"--source {name!r} is given twice")
        sources[name] = [p for p in paths.split(",") if p]
    return sources


def _run_train(args: argparse.Namespace) -> int:
    from livesep import presets
    from livesep.train import TrainSettings, train_preset

    out = Path(args.out)
    if not out.parent.is_dir():
        raise ParameterError(f"--out {out}: the folder {out.parent} does not exist")
    settings = TrainSettings(
        model=args.model,
        n_components=_default(args.components, 32 if args.model == "nmf" else 10),
        n_states=_default(args.states, 1 if args.model == "nmf" else 20),
        sr=args.sr, n_fft=args.n_fft, hop_length=args.hop, n_iter=args.iterations,
        beta=args.beta, seed=args.seed)
    preset = train_preset(_parse_sources(args.source), settings,
                          name=args.name or out.stem, description=args.description,
                          progress=not args.quiet)
    presets.save(preset, out)
    print(presets.describe(out))
    return 0


def _add_separate(commands: argparse._SubParsersAction) -> None:
    separate = commands.add_parser(
        "separate", help="separate an audio file into one file per source",
        description="Separate MIX into DIR/<source>.wav, one file per source of the preset, "
                    "with the input's rate and length, aligned sample for sample.")
    separate.add_argument("mixture", metavar="MIX", help="the audio file to separate")
    separate.add_argument("--preset", required=True, metavar="P",
                          help="a preset file, or the name of a shipped preset")
    separate.add_argument("--out-dir", required=True, metavar="DIR",
                          help="folder for the stems (created if missing)")
    separate.add_argument("--mode", choices=("online", "offline"), default="online",
                          help="online: the causal engine, block by block exactly as live; "
                               "offline: the non-causal batch reference (default: %(default)s)")
    separate.add_argument("--beam", type=int, default=None, metavar="B",
                          help="joint states evaluated per frame, 0 for all (default: 128)")
    separate.add_argument("--iterations", type=int, default=None, metavar="N",
                          help="activation updates per frame (default: 10)")
    separate.add_argument("--blocksize", type=int, default=512, metavar="N",
                          help="engine block size in online mode; the result does not depend "
                               "on it (default: %(default)s)")
    separate.add_argument("--overwrite", action="store_true",
                          help="replace stems that already exist in DIR")
    separate.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    separate.set_defaults(handler=_run_separate)


def engine_settings(args: argparse.Namespace) -> EngineSettings:
    """Engine settings from --beam / --iterations, defaults otherwise."""
    defaults = EngineSettings()
    return replace(defaults,
                   beam=defaults.beam if args.beam is None else args.beam,
                   n_iter=defaults.n_iter if args.iterations is None else args.iterations)


def _run_separate(args: argparse.Namespace) -> int:
    from livesep import presets
    from livesep.progress import fraction_bar
    from livesep.shipped import resolve_preset
    from livesep.stems import separate_file

    preset = presets.load(resolve_preset(args.preset))
    with fraction_bar(f"separating ({args.mode})", enabled=not args.quiet) as update:
        report = separate_file(args.mixture, preset, args.out_dir, mode=args.mode,
                               settings=engine_settings(args), block_size=args.blocksize,
                               overwrite=args.overwrite, progress=update)
    if not args.quiet:
        if report.channels_mixed_down:
            print(f"note: the input has {report.channels_mixed_down} channels; separated their "
                  "mono mix", file=sys.stderr)
        if report.resampled_from:
            print(f"note: the input is at {report.resampled_from} Hz; separated at the preset's "
                  f"{preset.sr} Hz and written back at {report.resampled_from} Hz (the stems "
                  f"hold nothing above {preset.sr // 2} Hz)", file=sys.stderr)
    for stem in report.stems:
        print(stem)
    return 0


def _not_built(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(_: argparse.Namespace) -> int:
        print(f"livesep {name}: not built yet in livesep {_version()}", file=sys.stderr)
        return 2

    return handler


def _run_demo(args: argparse.Namespace) -> int:
    from livesep.demo import run_demo

    run_demo(out_dir=args.out_dir, blocksize=args.blocksize)
    return 0


def _version() -> str:
    from livesep import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
