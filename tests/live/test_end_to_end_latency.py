"""End to end on the JACK dummy server at 48 kHz with 64-frame periods: clicks played into
livesep's input come out of its output as late as the stream reports (algorithmic +
resampling + device), within one device block; at ``low`` within 12 ms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.jack_harness import JackServer, jack_available, play_and_record, serving
from livesep import load_preset
from livesep.engine import EngineSettings
from livesep.live import LiveSeparator

# The README's test command installs jackd and JACK-Client, so this runs in CI; a machine
# without them cannot host the server at all.
pytestmark = pytest.mark.skipif(not jack_available(), reason="needs jackd and JACK-Client")

RATE, PERIOD = 48000, 64
SECONDS = 3.0
CLICK_EVERY = 0.25  # seconds between clicks
#: The issue's bound on the end-to-end delay at ``low`` with 64-frame blocks.
LOW_BOUND = 0.012
#: Runs tried for one in which every click can be found: on this VM, stalls of a few
#: milliseconds against 1.3 ms periods sometimes shift the recording against the playback.
ATTEMPTS = 3


@pytest.fixture(scope="module")
def server() -> JackServer:
    with serving(RATE, PERIOD) as running:
        yield running


def clicks() -> tuple[np.ndarray, np.ndarray]:
    """A click train (single-sample impulses) and where its clicks are."""
    x = np.zeros(int(SECONDS * RATE), dtype=np.float32)
    at = np.arange(int(0.1 * RATE), x.size - int(0.1 * RATE), int(CLICK_EVERY * RATE))
    x[at] = 0.5
    return x, at


@pytest.mark.parametrize("latency, preset", [("low", "voice"), ("standard", "voice"),
                                             ("low", "voice-48k")])
def test_clicks_come_out_as_late_as_reported(server: JackServer, tmp_path: Path,
                                             latency: str, preset: str) -> None:
    x, at = clicks()
    for attempt in range(ATTEMPTS):
        live = LiveSeparator(load_preset(preset), settings=EngineSettings(latency=latency),
                             output="mono")
        folder = tmp_path / str(attempt)
        folder.mkdir()
        try:
            played = play_and_record(server, x, folder, target_channels=1,
                                     start_target=live.start, before_exit=live.stop)
        finally:
            stats = live.stop()
        assert live.device_rate == RATE
        out = played.recording[:, 0]
        windows = [np.abs(out[start:start + int(0.1 * RATE)]) for start in
                   played.play_start + at - played.record_start]
        # Every click comes through (the masks sum to one), unless a cycle the machine
        # dropped shifted the recording against the clicks played: then run again.
        if all(window.max() > 0.1 for window in windows):
            break
    else:
        pytest.fail(f"clicks went missing in every one of {ATTEMPTS} runs (last: "
                    f"{stats.xruns})")
    measured = float(np.median([int(np.argmax(window)) for window in windows]))
    reported = round(stats.latency.total * RATE)  # whole samples, not float rounding
    assert abs(measured - reported) <= PERIOD, (latency, measured, reported, stats.latency)
    if latency == "low":
        assert measured / RATE <= LOW_BOUND, (measured, stats.latency)
