"""``livesep eval`` and ``livesep bench``: separation quality against references, and the
engine's speed."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from livesep.cli.options import add_cluster, add_quality, cluster_settings, engine_settings
from livesep.cli.output import console, fraction_bar
from livesep.errors import ParameterError
from livesep.files import check_output_folder

__all__ = ["add_eval", "add_bench"]


def add_eval(commands: argparse._SubParsersAction) -> None:
    from livesep.evaluation.evaluate import METHODS

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
    add_quality(evaluate)
    evaluate.add_argument("--blocksize", type=int, default=512, metavar="N",
                          help="engine block size of the online method (default: %(default)s)")
    evaluate.add_argument("--means-only", action="store_true",
                          help="print only the means over the files")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster(evaluate, "with --workers or --scheduler: the mixtures scored in parallel")
    evaluate.set_defaults(handler=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    from livesep import presets
    from livesep.evaluation.evaluate import evaluate_preset
    from livesep.evaluation.report import evaluation_table, plot_evaluation, write_json
    from livesep.presets.shipped import resolve_preset

    preset = presets.load(resolve_preset(args.preset))
    speech = None
    if args.speech is not None:
        speech = [] if args.speech.strip().lower() == "none" else [
            name.strip() for name in args.speech.split(",") if name.strip()]
    if len(set(args.methods)) != len(args.methods):
        raise ParameterError(f"--methods lists a method twice: {' '.join(args.methods)}")
    out_dir = check_output_folder(args.out_dir, error=ParameterError)
    with ExitStack() as stack:
        update = stack.enter_context(fraction_bar("scoring mixtures", enabled=not args.quiet))
        map_files = None
        if args.scheduler is not None or args.workers is not None:
            from livesep.scale import dask_client, mapper

            map_files = mapper(stack.enter_context(dask_client(cluster_settings(args))),
                               progress=update)
        evaluation = evaluate_preset(preset, args.mixtures, methods=args.methods,
                                     settings=engine_settings(args), speech=speech,
                                     block_size=args.blocksize, map_files=map_files,
                                     progress=update)
    console().print(evaluation_table(evaluation, per_file=not args.means_only))
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


def add_bench(commands: argparse._SubParsersAction) -> None:
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
    add_quality(bench)
    bench.add_argument("--no-numpy", action="store_true",
                       help="time the C++ engine only")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(handler=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from livesep import audio, presets
    from livesep.errors import PresetError
    from livesep.evaluation.bench import bench_table, run_bench
    from livesep.presets.shipped import resolve_preset, shipped_presets

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
    console().print(bench_table(result))
    return 0
