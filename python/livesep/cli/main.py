"""The ``livesep`` command line: one subcommand per job, errors as one line on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from livesep.cli.demo import add_demo
from livesep.cli.evaluate import add_bench, add_eval
from livesep.cli.flags import in_flags
from livesep.cli.gui import add_gui_command
from livesep.cli.live import add_live_commands
from livesep.cli.separate import add_separate
from livesep.cli.train import add_train
from livesep.errors import LivesepError
from livesep.version import __version__

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
livesep separates the sources in a single-channel sound (two speakers, a voice and the noise
around it, a bass and a drum kit) live, with models trained in advance on examples of each
source.

Start with `livesep demo`: it separates a bundled recording and writes the result."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="livesep", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_demo(commands)
    add_train(commands)
    add_separate(commands)
    add_live_commands(commands)
    add_gui_command(commands)
    add_eval(commands)
    add_bench(commands)
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
        print(f"livesep {args.command}: error: {in_flags(str(error))}", file=sys.stderr)
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
