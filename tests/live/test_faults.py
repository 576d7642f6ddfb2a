"""Faults while ``livesep live`` records, on JACK's dummy backend: the server killed mid-stream
and the recording outgrowing what the disk takes. Each is one clear line and a non-zero
exit, and what was recorded until then stays complete and readable."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers.jack_harness import JackServer, jack_available
from helpers.presets import random_preset
from livesep import presets

pytestmark = pytest.mark.skipif(not jack_available(),
                                reason="needs jackd (Debian jackd2) and the JACK-Client package")

RATE, PERIOD = 48000, 256


@pytest.fixture(scope="module")
def preset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return presets.save(random_preset((3, 4), 4), tmp_path_factory.mktemp("p") / "p.npz")


def live_recording(server: JackServer, preset_file: Path, folder: Path, *,
                   file_limit: int | None = None) -> subprocess.Popen[str]:
    """``livesep live --record folder`` in its own process (each file it writes limited to
    ``file_limit`` bytes, as a full disk would stop it); returns once it streams."""
    def limit() -> None:
        if file_limit is not None:
            # Past the limit a write fails with EFBIG instead of killing the process.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "livesep.cli", "live", "--preset",
         str(preset_file), "--record", str(folder)],
        env=dict(os.environ, **server.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=limit)
    banner = process.stdout.readline()
    assert banner.startswith("livesep live:"), (banner, process.stderr.read())
    return process


def finish(process: subprocess.Popen[str], timeout: float) -> str:
    """stderr once the process exits by itself (no hang)."""
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate(timeout=30)
        pytest.fail(f"still running {timeout} s later; stderr:\n{err}")
    return err


def recorded(folder: Path) -> dict[str, np.ndarray]:
    """Every recording, read by a reader that trusts the header alone (scipy's)."""
    from scipy.io import wavfile

    found = {}
    for path in sorted(folder.glob("*.wav")):
        with warnings.catch_warnings():  # libsndfile's PEAK chunk is unknown to scipy
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(path)
        assert rate == RATE and np.all(np.isfinite(data))
        found[path.stem] = data
    assert sorted(found) == ["input", "source0", "source1"]
    return found


def test_the_server_killed_mid_stream_keeps_the_recordings(preset_file: Path,
                                                          tmp_path: Path) -> None:
    with JackServer(RATE, PERIOD) as server:
        process = live_recording(server, preset_file, tmp_path / "rec")
        time.sleep(2.0)
        began = time.monotonic()
        server.stop()
        err = finish(process, timeout=20)
    assert process.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "stopped delivering audio" in lines[0], err
    assert time.monotonic() - began < 20
    lengths = {len(data) for data in recorded(tmp_path / "rec").values()}
    assert len(lengths) == 1 and lengths.pop() >= 1.5 * RATE


def test_a_full_disk_stops_with_one_line_and_keeps_what_was_written(preset_file: Path,
                                                                   tmp_path: Path) -> None:
    limit = 400_000  # bytes a file may reach: about 2 s of 32-bit samples at 48 kHz
    with JackServer(RATE, PERIOD) as server:
        process = live_recording(server, preset_file, tmp_path / "rec", file_limit=limit)
        err = finish(process, timeout=30)
    assert process.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "recording to" in lines[0] and "failed (file too large" in lines[0], err
    assert "the files hold the first" in lines[0]
    data = recorded(tmp_path / "rec")
    lengths = {len(samples) for samples in data.values()}
    assert len(lengths) == 1  # every file holds the same, whole blocks
    assert 0.5 * RATE <= lengths.pop() <= limit // 4
