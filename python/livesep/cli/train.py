"""``livesep train``: a preset from isolated examples of each source."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from functools import partial

from livesep.cli.options import add_cluster, cluster_settings, per_source_floats, per_source_ints
from livesep.cli.output import fraction_bar
from livesep.errors import ParameterError
from livesep.files import check_output_file

__all__ = ["add_train"]


def add_train(commands: argparse._SubParsersAction) -> None:
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
    train.add_argument("--floor", action="append", default=[], metavar="NAME=W",
                       help="let source NAME also track the stationary noise under the "
                            "stream (a hum, hiss or rumble of a room it was not trained on) as "
                            "one more dictionary column of weight W, e.g. --floor noise=30 as "
                            "the shipped voice presets (repeatable)")
    train.add_argument("--sr", type=int, default=16000, help="sample rate in Hz (default: "
                                                             "%(default)s)")
    train.add_argument("--n-fft", type=int, default=512, help="STFT frame (default: %(default)s)")
    train.add_argument("--hop", type=int, default=None, help="STFT hop (default: 128)")
    train.add_argument("--latency", choices=("standard", "low", "ultra"), default="standard",
                       help="the latency mode the preset is for: low and ultra train at the "
                            "hop that mode runs (so that N-HMM transitions are learned at "
                            "that rate) instead of --hop (default: %(default)s)")
    train.add_argument("--iterations", type=int, default=None, metavar="N",
                       help="NMF updates or N-HMM EM iterations (default: 200 / 15)")
    train.add_argument("--beta", type=float, default=1.0,
                       help="NMF divergence: 0 Itakura-Saito, 1 KL, 2 Euclidean (default: "
                            "%(default)s)")
    train.add_argument("--seed", type=int, default=0, help="random seed; the same seed and data "
                                                           "give the same preset (default: 0)")
    train.add_argument("--name", default=None, help="the preset's title (default: the file name)")
    train.add_argument("--description", default="", help="free text stored in the preset")
    train.add_argument("--overwrite", action="store_true",
                       help="replace --out if it exists (never when it is one of the inputs)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    add_cluster(train, "with --workers or --scheduler: nhmm and nmf training in chunks")
    train.add_argument("--chunk-seconds", type=float, default=None, metavar="S",
                       help="on a cluster: audio per chunk, read and processed by one task "
                            "(a worker holds one chunk at a time; default: 600)")
    train.add_argument("--scratch", default=None, metavar="DIR",
                       help="on a cluster: a folder every worker can write, for the chunks' "
                            "per-frame weights between iterations (default: a temporary "
                            "folder on this machine, enough for --workers)")
    train.set_defaults(handler=_run_train)


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _hop(args: argparse.Namespace) -> int:
    """--hop, or for --latency low / ultra the hop that mode runs the frames at (rounded up
    to one that divides --n-fft)."""
    if args.latency == "standard":
        return _default(args.hop, 128)
    if args.hop is not None:
        raise ParameterError(f"give --hop or --latency {args.latency}, not both: the latency "
                             f"mode sets the hop")
    from livesep.spectral import low_delay_geometry

    run, synthesis = low_delay_geometry(sr=args.sr, n_fft=args.n_fft, hop_length=args.n_fft // 4,
                                        latency=args.latency)
    if not synthesis:
        raise ParameterError(f"--n-fft {args.n_fft} at --sr {args.sr} is already within "
                             f"--latency {args.latency}: train without it")
    hops = [h for h in range(run, args.n_fft // 4 + 1) if args.n_fft % h == 0]
    if not hops:
        raise ParameterError(f"no hop from {run} to --n-fft {args.n_fft} / 4 divides it: give "
                             f"--n-fft a multiple of 4")
    return hops[0]


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
    from livesep.models.train import TrainSettings, collect_audio_files, train_preset

    sources = _parse_sources(args.source)
    # Before any training: the preset must not replace an input, nor a file unasked.
    inputs = [file for paths in sources.values() for file in collect_audio_files(paths)]
    out = check_output_file(args.out, overwrite=args.overwrite, inputs=inputs,
                            error=ParameterError)
    components, component_overrides = per_source_ints("--components", args.components)
    states, state_overrides = per_source_ints("--states", args.states)
    settings = TrainSettings(
        model=args.model,
        n_components=_default(components, {"nmf": 32, "nmfd": 16}.get(args.model, 10)),
        n_states=_default(states, 20 if args.model == "nhmm" else 1),
        n_frames=_default(args.frames, 4 if args.model == "nmfd" else 1),
        sr=args.sr, n_fft=args.n_fft, hop_length=_hop(args), n_iter=args.iterations,
        beta=args.beta, seed=args.seed)
    overrides: dict[str, dict[str, int]] = {}
    for field, values in (("n_components", component_overrides), ("n_states", state_overrides)):
        for source, value in values.items():
            overrides.setdefault(source, {})[field] = value
    for source in args.adaptive:
        overrides.setdefault(source, {})["adaptive"] = True
    on_cluster = args.scheduler is not None or args.workers is not None
    if not on_cluster and (args.chunk_seconds is not None or args.scratch is not None):
        raise ParameterError("--chunk-seconds and --scratch apply to training on a cluster "
                             "(--workers N or --scheduler ADDRESS)")
    if args.chunk_seconds is not None and not args.chunk_seconds > 0:
        raise ParameterError(f"--chunk-seconds must be > 0, got {args.chunk_seconds:g}")
    with ExitStack() as stack:
        trainer = None
        if on_cluster:
            from livesep.models.corpus.source import CHUNK_SECONDS, train_source_chunked
            from livesep.scale import dask_client, map_sum

            client = stack.enter_context(dask_client(cluster_settings(args)))
            trainer = partial(train_source_chunked, map_sum=map_sum(client),
                              chunk_seconds=args.chunk_seconds or CHUNK_SECONDS,
                              scratch=args.scratch)
        update = stack.enter_context(fraction_bar("training", enabled=not args.quiet))
        preset = train_preset(sources, settings,
                              name=args.name or out.stem, description=args.description,
                              overrides=overrides, trainer=trainer,
                              floors=per_source_floats("--floor", args.floor), progress=update)
    presets.save(preset, out)
    print(presets.describe(out))
    return 0
