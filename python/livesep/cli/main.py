"""The ``livesep`` command line: one subcommand per job, errors as one line on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence

from livesep.cli.demo import add_demo
from livesep.cli.enrol import add_enrol
from livesep.cli.evaluate import add_bench, add_eval
from livesep.cli.flags import in_flags
from livesep.cli.gui import add_gui_command
from livesep.cli.live import add_live_commands
from livesep.cli.separate import add_separate
from livesep.cli.train import add_train
from livesep.errors import LivesepError, LivesepWarning
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
    add_enrol(commands)
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
    with warnings.catch_warnings():
        warnings.simplefilter("always", LivesepWarning)
        warnings.showwarning = _one_line_warnings(args.command, warnings.showwarning)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
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
        text = (str(error).strip().splitlines() or [""])[0]
        text = text if len(text) <= 200 else text[:197] + "..."
        print(f"livesep {args.command}: internal error: {type(error).__name__}: {text} "
              "(set LIVESEP_DEBUG=1 for details and please report it)", file=sys.stderr)
        return 70


def _one_line_warnings(command: str, fallback: Callable[..., None]) -> Callable[..., None]:
    """livesep's warnings as one line on stderr in the user's words; others as Python shows
    them."""
    def show(message: Warning | str, category: type[Warning], *rest: object) -> None:
        if issubclass(category, LivesepWarning):
            print(f"livesep {command}: warning: {in_flags(str(message))}", file=sys.stderr)
        else:
            fallback(message, category, *rest)

    return show
