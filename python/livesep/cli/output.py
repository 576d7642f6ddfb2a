"""What the commands show: tables on a rich console, progress bars on stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["console", "fraction_bar"]


def console() -> Any:
    """A rich console on stdout; 120 columns wide when stdout is not a terminal (a pipe or
    a file), where rich would otherwise fold tables to 80."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


@contextmanager
def fraction_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[float], None]]:
    """A bar driven by the fraction done; yields ``update(fraction)``, a
    :data:`livesep.progress.Progress`.

    Parameters
    ----------
    description : str
        Shown left of the bar.
    enabled : bool, keyword-only
        False yields a no-op, for quiet runs. Without a terminal on stderr (a pipe, a log
        file) there is no bar either: it would only leave its lines there.
    """
    if not enabled or not sys.stderr.isatty():
        yield lambda fraction: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(),
                        console=Console(file=sys.stderr))
    with progress:
        task = progress.add_task(description, total=1.0)
        yield lambda fraction: progress.update(task, completed=min(max(fraction, 0.0), 1.0))
