"""Progress bars for command-line work (rich, on stderr); silent when disabled."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["fraction_bar"]


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
