"""``livesep separate --model nmf2d|nmfd --sources N``: blind separation on the command line.

Kept apart from :mod:`livesep.cli`, which only registers these options on ``separate`` and
hands the run over here when ``--model`` is given.
"""

from __future__ import annotations

import argparse

from livesep.cli.output import fraction_bar
from livesep.errors import ParameterError

__all__ = ["add_blind_options", "run_blind_separate", "wants_blind"]

#: livesep.separation.blind.BLIND_MODELS, repeated so that building the parser stays light (the
#: models import scipy); a test checks they agree.
BLIND_MODELS = ("nmf2d", "nmfd")
#: livesep.separation.blind.BlindSettings().n_iter, for the same reason.
DEFAULT_ITERATIONS = 500


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
    group.add_argument("--time-lags", type=int, default=7, metavar="N",
                       help="frames of 64 ms each source's signature spans (default: "
                            "%(default)s)")
    group.add_argument("--pitch-shifts", type=int, default=12, metavar="N",
                       help="pitch shifts in quarter tones for nmf2d; cover the range of "
                            "notes an instrument plays (default: %(default)s)")
    group.add_argument("--seed", type=int, default=0,
                       help="seed of the initialisation (default: %(default)s)")


def wants_blind(args: argparse.Namespace) -> bool:
    """Whether ``separate`` runs blind; raises if neither a preset nor a model is given."""
    if args.model is None and args.preset is None:
        raise ParameterError("give --preset P (trained sources), or --model "
                             f"{'|'.join(BLIND_MODELS)} --sources S (blind separation)")
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
                             seed=args.seed,
                             n_iter=DEFAULT_ITERATIONS if args.iterations is None
                             else args.iterations)
    with fraction_bar("separating (blind)", enabled=not args.quiet) as update:
        stems = separate_blind_file(args.mixture, args.out_dir, settings=settings,
                                    overwrite=args.overwrite, progress=update)
    for stem in stems:
        print(stem)
    return 0
