"""The monitor's per-callback start and end times, read by number, against a host that records known
timings (the fields the monitor reads of the C++ live host)."""

from __future__ import annotations

import numpy as np
import pytest

from livesep.engine import EngineSettings
from livesep.live.monitor import HISTORY, Monitor, StreamParts
from livesep.live.stats import EventLog


class RecordingHost:
    """Callbacks numbered from 0, callback i running ``i`` microseconds."""

    flag_counts = (0, 0, 0, 0)

    def __init__(self) -> None:
        self.count = 0
        self.dropped: set[int] = set()  # callbacks whose timings were overwritten unread

    def run(self, n: int) -> None:
        self.count += n

    def timings(self, first: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        kept = max(first, self.count - HISTORY // 2)  # the C++ host keeps only so many
        self.dropped.update(range(first, kept))
        first = kept
        index = np.arange(first, self.count, dtype=np.float64)
        starts = index * 1e-3
        return first, starts, starts + index * 1e-6, np.full(index.size, 48)

    def xruns(self, first: int) -> list[tuple[int, float, float, int]]:
        return []


class QuietEngine:
    def pop_timings(self) -> tuple[np.ndarray, np.ndarray, int]:
        return np.zeros(0), np.zeros(0), 0

    def collect_retired(self) -> None:
        pass


def monitor_of(host: RecordingHost) -> Monitor:
    parts = StreamParts(engine=QuietEngine(), host=host, bridge=None, device_rate=48000,
                        engine_rate=48000, device_latency=(0.0, 0.0), settings=EngineSettings())
    return Monitor(parts, events=EventLog(), governor=None)


@pytest.mark.parametrize("batches", [[1], [7, 1, 300], [HISTORY // 2, HISTORY // 2 + 5],
                                     [HISTORY // 2, HISTORY // 2, HISTORY // 2, 9]])
def test_times_by_callback_number(batches: list[int]) -> None:
    host = RecordingHost()
    monitor = monitor_of(host)
    for n in batches:
        host.run(n)
        monitor.collect()
    total = sum(batches)
    asked = np.array([0, batches[0] + 2, total // 2, total - HISTORY, total - 1, total, total + 3])
    times = monitor.callback_times(asked)
    for index, (start, end) in zip(asked, times, strict=True):
        if not 0 <= index < total or index < total - HISTORY or index in host.dropped:
            assert np.isnan(start) and np.isnan(end), index
        else:
            assert (start, end) == (index * 1e-3, index * 1e-3 + index * 1e-6), index


def test_times_before_any_callback_are_unknown() -> None:
    monitor = monitor_of(RecordingHost())
    assert np.isnan(monitor.callback_times([0, 1])).all()
