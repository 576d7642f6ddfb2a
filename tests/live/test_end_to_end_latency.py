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
    live = LiveSeparator(load_preset(preset), settings=EngineSettings(latency=latency),
                         output="mono")
    try:
        played = play_and_record(server, x, tmp_path, target_channels=1,
                                 start_target=live.start, before_exit=live.stop)
    finally:
        stats = live.stop()
    assert live.device_rate == RATE
    out = played.recording[:, 0]
    delays = []
    for click in at:
        start = played.play_start + int(click) - played.record_start
        window = np.abs(out[start:start + int(0.1 * RATE)])
        delays.append(int(np.argmax(window)))
        assert window.max() > 0.1  # the click came through (the masks sum to one)
    measured = float(np.median(delays))
    reported = round(stats.latency.total * RATE)  # whole samples, not float rounding
    assert abs(measured - reported) <= PERIOD, (latency, measured, reported, stats.latency)
    if latency == "low":
        assert measured / RATE <= LOW_BOUND, (measured, stats.latency)
