"""How long work reports its progress: a callable taking the fraction done, in [0, 1].

Every function of livesep that takes a while accepts ``progress: Progress | None``; the
command line turns the fractions into a bar (:func:`fraction_bar`), the desktop app into its
own. The library itself never draws anything.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Progress", "fraction_bar", "part_of"]

#: A callable that is told the fraction of the work done, from 0 to 1.
Progress = Callable[[float], None]


def part_of(progress: Progress | None, start: float, stop: float) -> Progress | None:
    """A progress callable for a part of the work: its fractions 0..1 are reported to
    ``progress`` as ``start..stop``. None stays None."""
    if progress is None:
        return None
    return lambda fraction: progress(start + (stop - start) * fraction)


@contextmanager
def fraction_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[float], None]]:
    """A bar driven by the fraction done; yields ``update(fraction)``.

    Parameters
    ----------
    description : str
        Shown left of the bar.
    enabled : bool, keyword-only
        False yields a no-op, for library use and quiet runs.
    """
    if not enabled:
        yield lambda fraction: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(),
                        console=Console(file=sys.stderr))
    with progress:
        task = progress.add_task(description, total=1.0)
        yield lambda fraction: progress.update(task, completed=min(max(fraction, 0.0), 1.0))
