"""Running the build's tasks, one after the other or in a process pool, and gathering results.

A task is a module-level function of this package and its arguments; its result is a
manifest entry. The order in which tasks finish does not change any file.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    """One independent piece of the build; its result lands at ``manifest[part][*key]``."""

    part: str
    key: tuple[str, ...]
    func: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]

    @property
    def label(self) -> str:
        """E.g. ``instruments/piano/train``."""
        return "/".join((self.part, *self.key))


def _run(tasks: Sequence[Task], *, jobs: int, quiet: bool) -> dict[str, Any]:
    """Run tasks (in a process pool when ``jobs > 1``) and gather their manifest entries."""
    results: dict[str, Any] = {}

    def store(task: Task, entry: dict[str, Any], done: int, started: float) -> None:
        node = results.setdefault(task.part, {})
        for key in task.key[:-1]:
            node = node.setdefault(key, {})
        node[task.key[-1]] = entry
        if not quiet:
            if "seconds" in entry:
                what = f"{entry['seconds']:6.1f} s"
            else:  # speech: one task makes both files
                what = ", ".join(f"{split} {entry[split]['seconds']:.1f} s"
                                 for split in ("train", "test") if split in entry)
            print(f"[{done:3d}/{len(tasks)}] {task.label:<36} {what:<28}"
                  f"  ({time.monotonic() - started:5.1f} s elapsed)", file=sys.stderr, flush=True)

    started = time.monotonic()
    # Forking a process that runs other threads can deadlock the children: stay serial then.
    if jobs <= 1 or len(tasks) <= 1 or threading.active_count() > 1:
        for done, task in enumerate(tasks, 1):
            store(task, task.func(*task.args), done, started)
        return results
    # fork: the workers start with everything loaded (numpy, livesep, this package, and
    # sys.path with the scripts folder on it), so they import nothing before a task.
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(task.func, *task.args): task for task in tasks}
        try:
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                store(futures[future], future.result(), done, started)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results
