"""How work that takes a while reports its progress: a callable taking the fraction done.

Every function of livesep that takes a while accepts ``progress: Progress | None``; the
command line turns the fractions into a bar (:func:`livesep.cli.output.fraction_bar`), the
desktop app into its own. The library itself never draws anything.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "part_of"]

#: A callable that is told the fraction of the work done, from 0 to 1.
Progress = Callable[[float], None]


def part_of(progress: Progress | None, start: float, stop: float) -> Progress | None:
    """A progress callable for a part of the work: its fractions 0..1 are reported to
    ``progress`` as ``start..stop``. None stays None."""
    if progress is None:
        return None
    return lambda fraction: progress(start + (stop - start) * fraction)
