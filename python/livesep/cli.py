"""The ``livesep`` command line: one subcommand per job, errors as one line on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from livesep.blind_cli import add_blind_options, run_blind_separate, wants_blind
from livesep.engine import EngineSettings
from livesep.errors import LivesepError, ParameterError
from livesep.gui_cli import add_gui_command, run_demo_gui
from livesep.live_cli import add_live_commands

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
livesep separates the sources in a single-channel sound (two speakers, a voice and the noise
around it, a bass and a drum kit) live, with models trained in advance on examples of each
source.

Start with `livesep demo`: it separates a bundled recording and writes the result."""

_NOT_BUILT: dict[str, str] = {}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="livesep", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="separate the bundled demo recording and write the result",
        description="Separate a bundled recording of two people talking at once with the "
                    "shipped male-female preset, through the live engine block by block, "
                    "and write one WAV per source, a picture (input spectrogram, live masks, "
                    "state posteriors, separated spectrograms) and the scores against the "
                    "true sources beside the mixture (floor) and the ideal ratio mask "
                    "(ceiling).")
    demo.add_argument("--out-dir", default="livesep-demo", metavar="DIR",
                      help="folder for the results (default: %(default)s)")
    demo.add_argument("--blocksize", type=int, default=128, metavar="N",
                      help="samples per engine call, as a live stream would (default: "
                           "%(default)s)")
    demo.add_argument("--gui", action="store_true",
                      help="open the desktop app on the same material instead")
    demo.set_defaults(handler=_run_demo)

    _add_train(commands)
    _add_separate(commands)
    add_live_commands(commands)
    add_gui_command(commands)
    _add_eval(commands)
    _add_bench(commands)

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
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
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
    train.add_argument("--model", choices=("nmf", "nhmm", "nmfd"), default="nhmm",
                       help="nmf: one dictionary per source; nhmm: one dictionary per state with "
                            "learned transitions; nmfd: convolutive patches of --frames frames "
                            "(default: %(default)s)")
    train.add_argument("--frames", type=int, default=None, metavar="T",
                       help="nmfd: frames per patch (default: 4)")
    train.add_argument("--components", action="append", default=[], metavar="[NAME=]K",
                       help="dictionary columns, per state for nhmm (default: 32 for nmf, 10 for "
                            "nhmm); NAME=K sets one source's (repeatable)")
    train.add_argument("--states", action="append", default=[], metavar="[NAME=]Q",
                       help="N-HMM states (default: 20; nmf has 1); NAME=Q sets one source's, "
                            "e.g. --states 20 --states noise=4 (repeatable)")
    train.add_argument("--adaptive", action="append", default=[], metavar="NAME",
                       help="let the engine keep learning this source from what it hears "
                            "(semi-supervised: e.g. an unknown room noise); it must have one "
                            "state (repeatable)")
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


def _per_source_ints(option: str, values: list[str]) -> tuple[int | None, dict[str, int]]:
    """``["20", "noise=4"]`` → (20, {"noise": 4}): a default and per-source values."""
    default: int | None = None
    per_source: dict[str, int] = {}
    for value in values:
        name, separator, number = value.rpartition("=")
        try:
            parsed = int(number)
        except ValueError:
            raise ParameterError(f"{option} must be an integer or NAME=INTEGER, got {value!r}"
                                 ) from None
        if separator:
            per_source[name.strip()] = parsed
        else:
            default = parsed
    return default, per_source


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
    components, component_overrides = _per_source_ints("--components", args.components)
    states, state_overrides = _per_source_ints("--states", args.states)
    settings = TrainSettings(
        model=args.model,
        n_components=_default(components, {"nmf": 32, "nmfd": 16}.get(args.model, 10)),
        n_states=_default(states, 20 if args.model == "nhmm" else 1),
        n_frames=_default(args.frames, 4 if args.model == "nmfd" else 1),
        sr=args.sr, n_fft=args.n_fft, hop_length=args.hop, n_iter=args.iterations,
        beta=args.beta, seed=args.seed)
    overrides: dict[str, dict[str, int]] = {}
    for field, values in (("n_components", component_overrides), ("n_states", state_overrides)):
        for source, value in values.items():
            overrides.setdefault(source, {})[field] = value
    for source in args.adaptive:
        overrides.setdefault(source, {})["adaptive"] = True
    preset = train_preset(_parse_sources(args.source), settings,
                          name=args.name or out.stem, description=args.description,
                          overrides=overrides, progress=not args.quiet)
    presets.save(preset, out)
    print(presets.describe(out))
    return 0


def _add_separate(commands: argparse._SubParsersAction) -> None:
    separate = commands.add_parser(
        "separate", help="separate an audio file into one file per source",
        description="Separate MIX into DIR/<source>.wav, one file per source of the preset "
                    "(or, blindly with --model, DIR/source1.wav ...), with the input's rate "
                    "and length, aligned sample for sample.")
    separate.add_argument("mixture", metavar="MIX", help="the audio file to separate")
    separate.add_argument("--preset", default=None, metavar="P",
                          help="a preset file, or the name of a shipped preset (or --model "
                               "for blind separation)")
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
    separate.add_argument("--per-state", action="store_true",
                          help="also write each N-HMM state's signal, DIR/<source>.state<q>.wav "
                               "(offline mode)")
    separate.add_argument("--state-gain", action="append", default=[],
                          metavar="NAME:STATE=GAIN",
                          help="a linear gain on one state of one source, e.g. piano:1=0 "
                               "mutes state 1 of the piano (offline mode; repeatable)")
    separate.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    add_blind_options(separate)
    separate.set_defaults(handler=_run_separate)


def engine_settings(args: argparse.Namespace) -> EngineSettings:
    """Engine settings from --beam / --iterations, defaults otherwise."""
    defaults = EngineSettings()
    return replace(defaults,
                   beam=defaults.beam if args.beam is None else args.beam,
                   n_iter=defaults.n_iter if args.iterations is None else args.iterations)


def _run_separate(args: argparse.Namespace) -> int:
    from livesep import audio, presets
    from livesep.progress import fraction_bar
    from livesep.shipped import resolve_preset
    from livesep.stems import separate_file

    if wants_blind(args):
        return run_blind_separate(args)
    preset = presets.load(resolve_preset(args.preset))
    audio.info(args.mixture)  # a missing or unreadable input fails before any progress bar
    with fraction_bar(f"separating ({args.mode})", enabled=not args.quiet) as update:
        report = separate_file(args.mixture, preset, args.out_dir, mode=args.mode,
                               settings=engine_settings(args), block_size=args.blocksize,
                               overwrite=args.overwrite, per_state=args.per_state,
                               state_gains=_state_gains(args.state_gain), progress=update)
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


def _add_quality(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--beam", type=int, default=None, metavar="B",
                        help="joint states evaluated per frame, 0 for all (default: 128)")
    parser.add_argument("--iterations", type=int, default=None, metavar="N",
                        help="activation updates per frame (default: 10)")


def _add_eval(commands: argparse._SubParsersAction) -> None:
    from livesep.evaluate import METHODS

    evaluate = commands.add_parser(
        "eval", help="score separations against references",
        description="Separate every mixture in DIR with the preset and score the result "
                    "against the true sources, beside the mixture itself (the floor) and the "
                    "ideal ratio mask (the ceiling): SDR, SIR and SAR (BSS Eval, "
                    "fast_bss_eval), SI-SDR, and STOI and wideband PESQ for speech sources. "
                    "Prints a table and writes eval.json and eval.png into the output folder.",
        epilog="DIR holds one folder per mixture: <name>/mix.wav beside one mono reference "
               "per source of the preset, named after it (male-female/mix.wav, male.wav, "
               "female.wav), as long as mix.wav and at its rate; folders with none of the "
               "preset's sources are skipped with a note. BSS Eval scores the best "
               "assignment of outputs to sources; outputs in another order than the "
               "preset's are reported as SWAPPED, a failure: the exit status is then 3.")
    evaluate.add_argument("--preset", required=True, metavar="P",
                          help="a preset file, or the name of a shipped preset")
    evaluate.add_argument("--mixtures", required=True, metavar="DIR",
                          help="the folder of mixture folders (or one mixture folder)")
    evaluate.add_argument("--out-dir", default="livesep-eval", metavar="DIR",
                          help="folder for eval.json and eval.png (default: %(default)s)")
    evaluate.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                          metavar="M",
                          help=f"what to score, among {', '.join(METHODS)} (default: all)")
    evaluate.add_argument("--speech", default=None, metavar="NAME[,NAME...]",
                          help="the sources that get STOI and PESQ, or 'none' (default: "
                               "sources named like speech, voice, male, female, speaker or "
                               "trained on files under a 'speech' folder)")
    _add_quality(evaluate)
    evaluate.add_argument("--blocksize", type=int, default=512, metavar="N",
                          help="engine block size of the online method (default: %(default)s)")
    evaluate.add_argument("--means-only", action="store_true",
                          help="print only the means over the files")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(handler=_run_eval)


def _console() -> Any:
    """A rich console on stdout; 120 columns wide when stdout is not a terminal (a pipe or
    a file), where rich would otherwise fold tables to 80."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


def _run_eval(args: argparse.Namespace) -> int:
    from livesep import presets
    from livesep.evaluate import evaluate_preset
    from livesep.progress import fraction_bar
    from livesep.report import evaluation_table, plot_evaluation, write_json
    from livesep.shipped import resolve_preset

    preset = presets.load(resolve_preset(args.preset))
    speech = None
    if args.speech is not None:
        speech = [] if args.speech.strip().lower() == "none" else [
            name.strip() for name in args.speech.split(",") if name.strip()]
    if len(set(args.methods)) != len(args.methods):
        raise ParameterError(f"--methods lists a method twice: {' '.join(args.methods)}")
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"--out-dir {out_dir}: exists and is not a folder")
    with fraction_bar("scoring mixtures", enabled=not args.quiet) as update:
        evaluation = evaluate_preset(preset, args.mixtures, methods=args.methods,
                                     settings=engine_settings(args), speech=speech,
                                     block_size=args.blocksize, progress=update)
    _console().print(evaluation_table(evaluation, per_file=not args.means_only))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError(f"--out-dir {out_dir}: cannot create ({error.strerror})") from None
    if evaluation.skipped:
        names = ", ".join(evaluation.skipped[:4]) + (", ..." if len(evaluation.skipped) > 4
                                                      else "")
        print(f"note: skipped {len(evaluation.skipped)} mixture folder(s) without "
              f"{' or '.join(f'{n}.wav' for n in preset.source_names)}: {names}",
              file=sys.stderr)
    for file in evaluation.files:
        for note in file.notes:
            print(f"note: {file.name}: {note}", file=sys.stderr)
    print(write_json(evaluation, out_dir / "eval.json"))
    print(plot_evaluation(evaluation, out_dir / "eval.png"))
    swaps = evaluation.swaps
    if swaps:
        listed = ", ".join(f"{method} on {name}" for name, method in swaps[:5])
        more = f" and {len(swaps) - 5} more" if len(swaps) > 5 else ""
        print(f"livesep eval: {len(swaps)} separation(s) swapped their outputs: {listed}{more}",
              file=sys.stderr)
        return 3
    return 0


def _add_bench(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench", help="measure the engine's speed",
        description="Stream a signal block by block through the C++ engine and through a "
                    "numpy implementation of the same computation, timing every block: "
                    "real-time factor and per-block time (median, p99, max) against the "
                    "block deadline.")
    bench.add_argument("--preset", default=None, metavar="P",
                       help="a preset file, or the name of a shipped preset (default: the "
                            "first shipped preset)")
    bench.add_argument("--seconds", type=float, default=10.0, metavar="S",
                       help="seconds of generated speech-like signal (default: %(default)s)")
    bench.add_argument("--input", default=None, metavar="FILE",
                       help="stream this audio file instead (mixed to mono, resampled to the "
                            "preset's rate)")
    bench.add_argument("--blocksize", type=int, default=128, metavar="N",
                       help="samples per engine call, as an audio callback's period "
                            "(default: %(default)s)")
    _add_quality(bench)
    bench.add_argument("--no-numpy", action="store_true",
                       help="time the C++ engine only")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(handler=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from livesep import audio, presets
    from livesep.bench import bench_table, run_bench
    from livesep.errors import PresetError
    from livesep.progress import fraction_bar
    from livesep.shipped import resolve_preset, shipped_presets

    if args.preset is None:
        shipped = shipped_presets()
        if not shipped:
            raise PresetError("no shipped preset is installed; pass --preset P (a preset file, "
                              "e.g. one written by livesep train)")
        path = shipped[0]
    else:
        path = resolve_preset(args.preset)
    preset = presets.load(path)
    signal, name = None, ""
    if args.input is not None:
        signal = audio.load(args.input, sr=preset.sr)[0]
        name = Path(args.input).name
    with fraction_bar("timing blocks", enabled=not args.quiet) as update:
        result = run_bench(preset, settings=engine_settings(args), block_size=args.blocksize,
                           seconds=args.seconds, signal=signal, signal_name=name,
                           numpy_reference=not args.no_numpy, progress=update)
    _console().print(bench_table(result))
    return 0


def _not_built(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(_: argparse.Namespace) -> int:
        print(f"livesep {name}: not built yet in livesep {_version()}", file=sys.stderr)
        return 2

    return handler


def _run_demo(args: argparse.Namespace) -> int:
    if args.gui:
        return run_demo_gui(args)
    from rich.console import Console

    from livesep.demo import run_demo

    if args.blocksize < 1:
        raise ParameterError(f"--blocksize must be >= 1, got {args.blocksize}")
    result = run_demo(out_dir=args.out_dir, block_size=args.blocksize)
    console = Console()
    console.print(result.table)
    console.print("wrote: " + ", ".join(str(p) for p in (*result.stems, result.figure,
                                                         result.scores)))
    return 0


def _version() -> str:
    from livesep import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
