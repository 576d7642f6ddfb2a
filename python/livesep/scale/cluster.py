"""A Dask client: an embedded LocalCluster of single-threaded worker processes, or an
existing cluster's scheduler, and a ``map`` that runs on it."""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from livesep.errors import ClusterError, ParameterError
from livesep.progress import Progress

__all__ = ["ClusterSettings", "dask_client", "map_sum", "mapper", "quiet_dask_logs", "Mapper",
           "DASK_LOGGERS"]

T = TypeVar("T")
#: ``map(function, items)`` returning the results in the items' order.
Mapper = Callable[[Callable[..., Any], Sequence[Any]], list[Any]]
#: Loggers of Dask that speak of cluster housekeeping (ports, restarts, closing comms); the
#: command line shows them only from ERROR up, its own summary says what matters.
DASK_LOGGERS = ("distributed", "distributed.nanny", "distributed.scheduler",
                "distributed.worker", "distributed.core", "distributed.comm",
                "distributed.batched", "distributed.client", "tornado")


@dataclass(frozen=True)
class ClusterSettings:
    """Where the work runs.

    Attributes
    ----------
    scheduler : str or None
        Address of an existing Dask scheduler (``tcp://host:8786``); None starts an embedded
        LocalCluster for the run.
    workers : int or None
        Worker processes of the embedded cluster (one thread each); None: one per core.
        Not used with ``scheduler``.
    memory_limit : str
        Memory limit of each embedded worker (Dask's syntax, e.g. ``"2GiB"``, or ``"auto"``).
    """

    scheduler: str | None = None
    workers: int | None = None
    memory_limit: str = "auto"

    def __post_init__(self) -> None:
        if self.workers is not None and not 1 <= self.workers <= 1024:
            raise ParameterError(f"workers must be in [1, 1024], got {self.workers!r}")
        if self.scheduler is not None and self.workers is not None:
            raise ParameterError(f"workers={self.workers} only sizes the embedded cluster; an "
                                 f"existing scheduler ({self.scheduler}) has its own workers")


def quiet_dask_logs(level: int = logging.ERROR) -> None:
    """Show Dask's housekeeping logs only from ``level`` up."""
    for name in DASK_LOGGERS:
        logging.getLogger(name).setLevel(level)


@contextmanager
def dask_client(settings: ClusterSettings | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for the duration of the block.

    Parameters
    ----------
    settings : ClusterSettings, optional
        Embedded LocalCluster (default) or an existing scheduler.

    Yields
    ------
    distributed.Client

    Raises
    ------
    ClusterError
        If Dask is not installed, the scheduler cannot be reached or the cluster not started.

    Examples
    --------
    >>> from livesep.scale import ClusterSettings, dask_client, mapper
    >>> with dask_client(ClusterSettings(workers=1)) as client:
    ...     mapper(client)(abs, [-1, 2, -3])
    [1, 2, 3]
    """
    settings = settings or ClusterSettings()
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("Dask is not installed: pip install 'livesep[cluster]' (dask and "
                           "distributed)") from None
    quiet_dask_logs()
    if settings.scheduler is not None:
        try:
            client = Client(settings.scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterError(f"scheduler {settings.scheduler}: cannot connect ({error})"
                               ) from None
        with client:
            yield client
        return
    workers = settings.workers or os.cpu_count() or 1
    try:
        # No dashboard; the scheduler's small HTTP server (health checks) on a free port
        # rather than 8787, which another cluster on the machine may hold.
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None,
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                               memory_limit=settings.memory_limit,
                               silence_logs=logging.ERROR)
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"cannot start a local cluster of {workers} workers ({error})"
                           ) from None
    with cluster, Client(cluster) as client:
        yield client


def mapper(client: Any | None, *, progress: Progress | None = None) -> Mapper:
    """``map(function, items)`` on the client's cluster (results in order), or in this
    process when ``client`` is None; ``progress`` is told the fraction of items done.

    Raises
    ------
    ClusterError
        If the cluster lost a task more often than Dask allows (workers dying on it).

    Examples
    --------
    >>> mapper(None)(len, ["ab", "c"])
    [2, 1]
    """
    def report(done: int, total: int) -> None:
        if progress is not None and total:
            progress(done / total)

    def local_map(function: Callable[..., T], items: Sequence[Any]) -> list[T]:
        results = []
        for item in items:
            results.append(function(item))
            report(len(results), len(items))
        return results

    def cluster_map(function: Callable[..., T], items: Sequence[Any]) -> list[T]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        futures = client.map(function, list(items), pure=False)
        try:
            for done, _ in enumerate(as_completed(futures), start=1):
                report(done, len(futures))
            return list(client.gather(futures))
        except KilledWorker as error:
            raise ClusterError(f"the cluster lost a task too often (workers died running it: "
                               f"{error}); is a worker short of memory?") from None
        except CancelledError as error:
            raise ClusterError(f"the cluster cancelled a task ({error})") from None

    return local_map if client is None else cluster_map


def map_sum(client: Any) -> Callable[[Callable[[Any], Any], Sequence[Any]], Any]:
    """``map_sum(function, items)``: ``function`` on every item on the cluster, the results
    added in a binary tree of tasks on the workers (so the client receives one sum, not one
    result per item; the order of the additions depends on the number of items only).

    Raises
    ------
    ClusterError
        As :func:`mapper`.
    """
    def cluster_map_sum(function: Callable[[Any], Any], items: Sequence[Any]) -> Any:
        from distributed.scheduler import KilledWorker

        level = client.map(function, list(items), pure=False)
        while len(level) > 1:
            pairs = [client.submit(operator.add, level[i], level[i + 1], pure=False)
                     for i in range(0, len(level) - 1, 2)]
            level = pairs + ([level[-1]] if len(level) % 2 else [])
        try:
            return level[0].result()
        except KilledWorker as error:
            raise ClusterError(f"the cluster lost a task too often (workers died running it: "
                               f"{error}); is a worker short of memory?") from None
        except CancelledError as error:
            raise ClusterError(f"the cluster cancelled a task ({error})") from None

    return cluster_map_sum
