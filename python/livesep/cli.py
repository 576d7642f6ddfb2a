"""The ``livesep`` command line: one subcommand per job, errors as one line on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from livesep.errors import LivesepError

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
livesep separates the sources in a single-channel sound (two speakers, a voice and the noise
around it, a bass and a drum kit) live, with models trained in advance on examples of each
source.

Start with `livesep demo`: it separates a bundled recording and writes the result."""

_NOT_BUILT = {
    "train": "train a preset from isolated examples of each source",
    "separate": "separate an audio file into one file per source",
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
