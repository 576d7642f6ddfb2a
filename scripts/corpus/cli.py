"""The command line of ``scripts/build_corpus.py``: arguments, progress, one-line errors."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from livesep.errors import LivesepError

from .build import PARTS, build
from .common import CorpusError


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments without the program name; ``None`` for ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 on an error (reported as one line on stderr).
    """
    parser = argparse.ArgumentParser(
        prog="build_corpus.py",
        description="Build livesep's training and test corpus from Debian-packaged audio.")
    parser.add_argument("--out", required=True, type=Path, help="corpus folder")
    parser.add_argument("--sr", type=int, default=16000, help="sample rate (default 16000)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help="comma-separated parts to (re)build from scratch; mixtures need "
                             f"the others built (default {','.join(PARTS)})")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes (default: number of CPUs)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    started = time.monotonic()
    try:
        manifest = build(args.out, sr=args.sr, parts=parts, jobs=args.jobs, quiet=args.quiet)
    except (CorpusError, LivesepError, OSError, ValueError) as error:
        print(f"build_corpus.py: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build_corpus.py: interrupted", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"built {', '.join(parts)} into {args.out} in {time.monotonic() - started:.1f} s; "
              f"manifest: {manifest}", file=sys.stderr)
    return 0
